// ChatBroker and lean devices: confirmations to the sender, live entries on `i`, replay pages
// on `r` with the device's own sends as confirmations, a replay its CONNECT starts, short acks.
#include "broker_world.h"

#include "common/lean.h"
#include "storage/inbox.h"
#include "storage/policy.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using chat::broker::ClientKey;
using chat::broker::DirectPublish;
using chat::broker::World;
using Verdict = chat::broker::MessageResult::Verdict;

namespace {

void make_lean(World& w, const std::string& user, const std::string& device) {
    auto db = w.open();
    chat::storage::Policy(db).set_encoding(user, device, chat::Encoding::lean);
}

const DirectPublish* to_client(const std::vector<DirectPublish>& extra, const std::string& client_id,
                               const std::string& topic) {
    for (const auto& d : extra) {
        if (d.client_id == client_id && d.message.topic == topic) return &d;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("a lean sender learns the seq and id of what it sent; its other lean device gets the entry") {
    World w;
    make_lean(w, "15550001", "d1");
    make_lean(w, "15550001", "d2");
    make_lean(w, "15550002", "d1");
    REQUIRE(w.login(1, "15550001/d1"));
    REQUIRE(w.login(2, "15550001/d2"));
    REQUIRE(w.login(3, "15550002/d1"));
    auto r = w.broker->on_message(w.key(1), "m/15550002", "twenty bytes of text", {{"cid", "c7"}});
    REQUIRE(r.verdict == Verdict::rewrite);

    const DirectPublish* confirmed = to_client(r.extra, "15550001/d1", "c");
    REQUIRE(confirmed);
    auto c = chat::lean::decode_confirmation(confirmed->message.payload);
    CHECK(c.seq == 1);  // the sent copy's place in the sender's inbox: no gap for this device
    CHECK(c.cid == "c7");
    CHECK_FALSE(to_client(r.extra, "15550001/d1", "i"));  // never its own body back

    const DirectPublish* other = to_client(r.extra, "15550001/d2", "i");
    REQUIRE(other);
    auto mine = chat::lean::decode_entry(other->message.payload, "15550001");
    CHECK(mine.kind == "sent");
    CHECK(mine.id == c.id);
    CHECK(mine.to == "15550002");
    CHECK(mine.body == "twenty bytes of text");

    const DirectPublish* delivered = to_client(r.extra, "15550002/d1", "i");
    REQUIRE(delivered);
    CHECK(delivered->message.payload.size() == 53);
    auto got = chat::lean::decode_entry(delivered->message.payload, "15550002");
    CHECK(got.id == c.id);  // what a receipt will name
    CHECK(got.from == "15550001");

    // A retry (same cid) is confirmed again with the same id.
    auto again = w.broker->on_message(w.key(1), "m/15550002", "twenty bytes of text", {{"cid", "c7"}});
    const DirectPublish* reconfirmed = to_client(again.extra, "15550001/d1", "c");
    REQUIRE(reconfirmed);
    CHECK(chat::lean::decode_confirmation(reconfirmed->message.payload).id == c.id);
}

TEST_CASE("a JSON sender gets no confirmation: a device that asked for nothing sees today's traffic") {
    World w;
    REQUIRE(w.login(1, "15550001/d1"));
    REQUIRE(w.login(2, "15550001/d2"));
    auto r = w.broker->on_message(w.key(1), "m/15550002", "hi", {});
    REQUIRE(r.extra.size() == 1);  // only the other device's JSON copy, as before
    CHECK(r.extra[0].client_id == "15550001/d2");
    CHECK(r.extra[0].message.topic == "u/15550001/d/d2");
    CHECK(nlohmann::json::parse(r.extra[0].message.payload)["kind"] == "sent");
}

TEST_CASE("a replay page to a lean device is one publish on r, its own sends as confirmations") {
    World w;
    make_lean(w, "15550002", "d1");
    REQUIRE(w.auth(w.key(0), "chat-bridge-1", "bridge", "pw"));
    REQUIRE(w.login(1, "15550002/d1"));
    nlohmann::json entries = nlohmann::json::array();
    entries.push_back({{"id", "m1"}, {"seq", 1}, {"kind", "msg"}, {"from", "15550001"}, {"to", "15550002"},
                       {"ts", w.now}, {"body", "hello"}});
    entries.push_back({{"id", "m2"}, {"seq", 2}, {"kind", "sent"}, {"from", "15550002"}, {"to", "15550001"},
                       {"ts", w.now}, {"body", "mine, from d1"}, {"device", "d1"}});
    entries.push_back({{"id", "m3"}, {"seq", 3}, {"kind", "sent"}, {"from", "15550002"}, {"to", "15550001"},
                       {"ts", w.now}, {"body", "mine, from d2"}, {"device", "d2"}});
    auto r = w.broker->on_message(
        w.key(0), "b/replay", nlohmann::json{{"user", "15550002"}, {"device", "d1"}, {"entries", entries}}.dump(), {});
    REQUIRE(r.extra.size() == 1);
    CHECK(r.extra[0].client_id == "15550002/d1");
    CHECK(r.extra[0].message.topic == "r");
    auto page = chat::lean::decode_page(r.extra[0].message.payload, "15550002");
    REQUIRE(page.size() == 3);
    CHECK(page[0].entry.body == "hello");
    CHECK(page[1].confirmation);  // d1 sent it: seq and id, no body
    CHECK(page[1].confirmed.seq == 2);
    CHECK(page[1].confirmed.id == "m2");
    CHECK_FALSE(page[2].confirmation);  // d2 sent it: d1 needs the body
    CHECK(page[2].entry.body == "mine, from d2");
    CHECK(r.extra[0].message.payload.find("mine, from d1") == std::string::npos);
}

TEST_CASE("the sending device is stored with its sent entry, for the replay") {
    World w;
    REQUIRE(w.login(1, "15550001/d2"));
    REQUIRE(w.broker->on_message(w.key(1), "m/15550002", "hi", {}).verdict == Verdict::rewrite);
    w.broker->wait_imported();
    auto db = w.open();
    auto mine = chat::storage::Inbox(db).entries_after("15550001", 0, 10);
    REQUIRE(mine.size() == 1);
    CHECK(mine[0].device == "d2");
    auto theirs = chat::storage::Inbox(db).entries_after("15550002", 0, 10);
    REQUIRE(theirs.size() == 1);
    CHECK(theirs[0].device.empty());
}

TEST_CASE("a lean device that connects behind its inbox gets a replay started for it") {
    World w;
    make_lean(w, "15550002", "d1");
    REQUIRE(w.login(1, "15550001/d1"));
    REQUIRE(w.broker->on_message(w.key(1), "m/15550002", "one", {}).verdict == Verdict::rewrite);
    REQUIRE(w.broker->on_message(w.key(1), "m/15550002", "two", {}).verdict == Verdict::rewrite);
    w.broker->wait_imported();
    CHECK(w.broker->take_publishes().empty());

    REQUIRE(w.login(2, "15550002/d1"));
    auto started = w.broker->take_publishes();
    REQUIRE(started.size() == 1);
    CHECK(started[0].client_id.empty());  // routed to the bridges' s/+ like a device's own request
    CHECK(started[0].message.topic == "s/15550002");
    auto request = nlohmann::json::parse(started[0].message.payload);
    CHECK(request["after"] == 0);
    CHECK(request["device"] == "d1");
    CHECK(request["upto"] == 2);

    // Once it acked everything (here in the short form), a reconnect starts nothing.
    auto ack = w.broker->on_message(w.key(2), "k/15550002", "2", {});
    REQUIRE(ack.verdict == Verdict::rewrite);
    CHECK(nlohmann::json::parse(ack.rewritten.payload)["delivered"] == 2);
    w.broker->on_disconnect(w.key(2));
    w.broker->tick();
    w.broker->wait_imported();
    REQUIRE(w.login(3, "15550002/d1"));
    CHECK(w.broker->take_publishes().empty());
    // A JSON device is never replayed to unasked.
    REQUIRE(w.login(4, "15550002/d2"));
    CHECK(w.broker->take_publishes().empty());
}

TEST_CASE("short uplink forms: the digits alone for an ack and a sync request") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550002/d1"));
    for (int i = 0; i < 2; ++i) REQUIRE(w.broker->on_message(w.key(0), "m/15550002", "x", {}).verdict == Verdict::rewrite);
    auto sync = w.broker->on_message(w.key(1), "s/15550002", "1", {});
    REQUIRE(sync.verdict == Verdict::rewrite);
    CHECK(nlohmann::json::parse(sync.rewritten.payload)["after"] == 1);
    for (std::string bad : {"", "-1", "1e3", "12x", "99999999999999999999"}) {
        INFO(bad);
        CHECK(w.broker->on_message(w.key(1), "k/15550002", bad, {}).verdict == Verdict::deny);
    }
}
