// Unit tests of status updates in ChatBroker: the poster's copy, the outbox record for the
// audience, the lifetime, and the refusals.
#include "broker-plugin/broker.h"
#include "broker_world.h"
#include "common/status_outbox.h"
#include "storage/inbox.h"
#include "storage/social.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chat::broker;
using Verdict = MessageResult::Verdict;

TEST_CASE("a status is stored for the poster with its lifetime and handed to the bridge with its audience") {
    World w([](Config& c) { c.status_lifetime_ms = 5000; });
    REQUIRE(w.login(0, "15550001/d1"));
    CHECK(w.broker->acl(w.key(0), Access::write, "st/15550001", 10));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "st/15550002", 10));
    nlohmann::json post = {{"to", {"15550003", "15550002", "15550002", "15550001"}}, {"body", "at the beach"}};
    auto r = w.broker->on_message(w.key(0), "st/15550001", post.dump(), {});
    REQUIRE(r.verdict == Verdict::rewrite);
    CHECK(r.rewritten.topic == "st/15550001");
    auto shared = chat::entry_from_json(r.rewritten.payload);
    CHECK(shared.kind == "status");
    CHECK(shared.gid == chat::status_outbox_gid);
    CHECK(shared.expires_ms == w.now + 5000);
    auto record = chat::parse_status_outbox_body(shared.body);
    CHECK(record.audience == std::vector<std::string>{"15550002", "15550003"});  // sorted, once, no poster
    CHECK(record.body == "at the beach");

    w.broker->wait_imported();
    auto db = w.open();
    auto own = chat::storage::Inbox(db).entries_after("15550001", 0, 10);
    REQUIRE(own.size() == 1);
    CHECK(own[0].kind == "status");
    CHECK(own[0].body == "at the beach");
    CHECK(own[0].expires_ms == w.now + 5000);
    CHECK(chat::storage::Inbox(db).entries_after("15550002", 0, 10).empty());  // the bridge's job
}

TEST_CASE("bad statuses and deletes of someone else's status are refused") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550002/d1"));
    auto post = [&](int key, const std::string& topic, const std::string& payload, UserProperties props = {}) {
        return w.broker->on_message(w.key(key), topic, payload, props).verdict;
    };
    CHECK(post(0, "st/15550001", "plain text") == Verdict::deny);
    CHECK(post(0, "st/15550001", R"({"to":[],"body":"x"})") == Verdict::deny);
    CHECK(post(0, "st/15550001", R"({"to":["15550001"],"body":"x"})") == Verdict::deny);
    CHECK(post(0, "st/15550001", R"({"to":["bob"],"body":"x"})") == Verdict::deny);
    CHECK(post(0, "st/15550001", R"({"to":["15550002"]})") == Verdict::deny);
    CHECK(post(0, "st/15550001", R"({"to":["15550002"],"body":"x"})", {{"kind", "edit"}, {"ref", "x"}}) == Verdict::deny);
    auto ok = w.broker->on_message(w.key(0), "st/15550001", R"({"to":["15550002"],"body64":"aGk="})", {});
    REQUIRE(ok.verdict == Verdict::rewrite);
    auto id = chat::entry_from_json(ok.rewritten.payload).id;
    CHECK(post(1, "st/15550002", "", {{"kind", "delete"}, {"ref", id}}) == Verdict::deny);
    auto del = w.broker->on_message(w.key(0), "st/15550001", "", {{"kind", "delete"}, {"ref", id}});
    REQUIRE(del.verdict == Verdict::rewrite);
    auto e = chat::entry_from_json(del.rewritten.payload);
    CHECK(e.kind == "delete");
    CHECK(e.ref == id);
}

TEST_CASE("a status is refused while an audience member has a full queue, unless blocks keep it from them") {
    World w([](Config& c) { c.max_pending = 2; });
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(2, "15550003/d1"));
    for (const char* text : {"one", "two"}) {  // bob's queue: 2 undelivered entries, the cap
        REQUIRE(w.broker->on_message(w.key(2), "m/15550002", text, {}).verdict == MessageResult::Verdict::rewrite);
    }
    // Carol's own queue holds the sent copies: her ack leaves bob's the only full one.
    REQUIRE(w.broker->on_message(w.key(2), "k/15550003", R"({"seq":2})", {}).verdict != MessageResult::Verdict::deny);
    w.broker->wait_imported();
    auto post = [&](std::vector<std::string> audience) {
        return w.broker->on_message(w.key(0), "st/15550001", nlohmann::json{{"to", audience}, {"body", "hi"}}.dump(), {});
    };
    auto refused = post({"15550002", "15550003"});
    CHECK(refused.verdict == MessageResult::Verdict::deny);
    CHECK(refused.refusal == Refusal::pending_cap);
    CHECK(post({"15550003"}).verdict == MessageResult::Verdict::rewrite);
    {
        auto db = w.open();
        chat::storage::Blocks(db).block("15550001", "15550002");  // the poster blocked bob
    }
    CHECK(post({"15550002", "15550003"}).verdict == MessageResult::Verdict::rewrite);
}
