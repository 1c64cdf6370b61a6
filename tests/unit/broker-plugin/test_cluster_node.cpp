// Unit tests for a ChatBroker that is one node of a cluster: it takes only its own users, hands
// what is meant for users homed elsewhere to a bridge, expands b/live, and fences itself.
#include "broker-plugin/broker.h"
#include "broker_world.h"
#include "storage/cluster.h"
#include "storage/inbox.h"
#include "storage/outbox.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

using namespace chat::broker;
using Verdict = MessageResult::Verdict;

namespace {

constexpr int64_t lease_ms = 1000;

// Node n1 homes 15550001; node n2 (not running here, but with a live lease) homes the others.
std::function<void(Config&)> as_node_one(const std::string& db_location, int64_t now) {
    return [db_location, now](Config& c) {
        c.node_id = "n1";
        c.node_address = "127.0.0.1:1883";
        c.lease_ms = lease_ms;
        chat::storage::Database db(db_location);
        chat::storage::Cluster cluster(db);
        cluster.renew_lease("n1", c.node_address, now, lease_ms);
        REQUIRE(cluster.settle_home("15550001", now)->node == "n1");  // the only live node
        cluster.release_lease("n1", now);
        cluster.renew_lease("n2", "127.0.0.1:1884", now, 3'600'000);
        REQUIRE(cluster.settle_home("15550002", now)->node == "n2");
        REQUIRE(cluster.settle_home("15550003", now)->node == "n2");
    };
}

struct NodeWorld {
    chat::testing::TempDir probe;  // unused folder: the World below owns the database
    std::unique_ptr<World> w;
    NodeWorld() {
        // The World creates the users before it runs the tweak, which settles their homes.
        std::string location;
        int64_t now = 1'000'000;
        w = std::make_unique<World>([&](Config& c) {
            location = c.db_url.empty() ? c.db_path : c.db_url;
            as_node_one(location, now)(c);
        });
    }
};

std::string id_of(const MessageResult& r) { return nlohmann::json::parse(r.rewritten.payload)["id"].get<std::string>(); }

}  // namespace

TEST_CASE("a cluster node takes the CONNECTs of its own users only") {
    NodeWorld n;
    World& w = *n.w;
    CHECK(w.login(0, "15550001/d1"));
    CHECK(w.broker->authenticate(w.key(1), "15550002/d1", "15550002", w.tokens["15550002/d1"]) ==
          AuthResult::unavailable);
}

TEST_CASE("a message to a user homed elsewhere is journaled with the sent copy and goes on to m/ for a bridge") {
    NodeWorld n;
    World& w = *n.w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550001/d2"));
    auto r = w.broker->on_message(w.key(0), "m/15550002", "hello", {{"cid", "c1"}});
    REQUIRE(r.verdict == Verdict::rewrite);
    CHECK(r.rewritten.topic == "m/15550002");
    auto j = nlohmann::json::parse(r.rewritten.payload);
    CHECK(j["to"] == "15550002");
    CHECK(j.value("seq", 0) == 0);  // the recipient's home gives it its seq
    REQUIRE(r.extra.size() == 1);    // the sender's other device gets its sent copy at once
    CHECK(nlohmann::json::parse(r.extra[0].message.payload)["kind"] == "sent");
    // A retry with the same cid goes the same way, with the same id.
    auto again = w.broker->on_message(w.key(0), "m/15550002", "hello", {{"cid", "c1"}});
    CHECK(again.rewritten.topic == "m/15550002");
    CHECK(id_of(again) == j["id"]);
    w.broker->wait_imported();
    auto db = w.open();
    chat::storage::Inbox inbox(db);
    CHECK(inbox.last_seq("15550002") == 0);
    REQUIRE(inbox.entries_after("15550001", 0, 10).size() == 1);
    auto queued = chat::storage::GroupOutbox(db).find(j["id"].get<std::string>());
    REQUIRE(queued.has_value());
    CHECK(queued->to == "15550002");
    CHECK(queued->gid.empty());
    CHECK(queued->body == "hello");
    // Unknown users are still refused.
    CHECK(w.broker->on_message(w.key(0), "m/15559999", "x", {}).verdict == Verdict::deny);
}

TEST_CASE("receipts and typing for a user homed elsewhere go on to r/ and t/ for a bridge") {
    NodeWorld n;
    World& w = *n.w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.auth(w.key(2), "bridge-1", "bridge", "pw"));
    // A message from 15550002 (homed on n2) stored here by a bridge's batch.
    nlohmann::json entry = {{"id", chat::new_message_id(w.now)}, {"kind", "msg"}, {"from", "15550002"},
                            {"ts", w.now}, {"body", "hi"}};
    nlohmann::json batch = {{"entry", entry}, {"to", {"15550001"}}, {"direct", true}};
    REQUIRE(w.broker->on_message(w.key(2), "b/fanout", batch.dump(), {}).verdict == Verdict::pass);
    nlohmann::json read = {{"read", {entry["id"]}}};
    auto receipt = w.broker->on_message(w.key(0), "r/15550002", read.dump(), {});
    REQUIRE(receipt.verdict == Verdict::rewrite);
    CHECK(receipt.rewritten.topic == "r/15550002");
    CHECK(nlohmann::json::parse(receipt.rewritten.payload)["kind"] == "receipt");
    auto typing = w.broker->on_message(w.key(0), "t/15550002", "composing", {});
    REQUIRE(typing.verdict == Verdict::rewrite);
    CHECK(typing.rewritten.topic == "t/15550002");
    auto j = nlohmann::json::parse(typing.rewritten.payload);
    CHECK(j["from"] == "15550001");
    CHECK(j["body"] == "composing");
    CHECK(typing.extra.empty());
    w.broker->wait_imported();
    auto db = w.open();
    auto queued = chat::storage::GroupOutbox(db).find(id_of(receipt));
    REQUIRE(queued.has_value());
    CHECK(queued->to == "15550002");
}

TEST_CASE("b/live from a bridge is published here as it came, marked relayed; other topics are refused") {
    NodeWorld n;
    World& w = *n.w;
    REQUIRE(w.auth(w.key(2), "bridge-1", "bridge", "pw"));
    nlohmann::json presence = {{"topic", "p/15550002"}, {"payload", "online"}, {"qos", 1}, {"retain", true}};
    auto r = w.broker->on_message(w.key(2), "b/live", presence.dump(), {});
    REQUIRE(r.extra.size() == 1);
    CHECK(r.extra[0].client_id.empty());
    CHECK(r.extra[0].message.topic == "p/15550002");
    CHECK(r.extra[0].message.payload == "online");
    CHECK(r.extra[0].retain);
    CHECK(r.extra[0].relayed);
    CHECK(r.extra[0].qos == 1);
    for (auto topic : {"m/15550001", "u/15550001/i", "p/x", "u/15550001/e/x"}) {
        INFO(topic);
        nlohmann::json bad = {{"topic", topic}, {"payload", "x"}, {"qos", 0}};
        CHECK(w.broker->on_message(w.key(2), "b/live", bad.dump(), {}).verdict == Verdict::deny);
    }
    CHECK_FALSE(w.broker->acl(w.key(2), Access::read, "b/live", 10));
}

TEST_CASE("a node whose lease lapsed takes nothing until it has renewed and re-read its users' homes") {
    NodeWorld n;
    World& w = *n.w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.broker->on_message(w.key(0), "m/15550002", "before", {}).verdict == Verdict::rewrite);
    w.set_now(w.now + 2 * lease_ms);  // no renewal in between, as if the database were away
    CHECK_THROWS_AS(w.broker->on_message(w.key(0), "m/15550002", "fenced", {}), chat::storage::Error);
    CHECK(w.broker->authenticate(w.key(1), "15550001/d2", "15550001", w.tokens["15550001/d2"]) ==
          AuthResult::unavailable);
    // The lease thread renews (every lease_ms / 5) and finds the lapse; the next tick re-reads.
    for (int i = 0; i < 200 && w.broker->authenticate(w.key(1), "15550001/d2", "15550001", w.tokens["15550001/d2"]) !=
                                   AuthResult::accepted;
         ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        w.broker->tick();
    }
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "after", {}).verdict == Verdict::rewrite);
}

TEST_CASE("a sync past the inbox's end (seqs a failed node never stored) replays from the device's stored cursor") {
    NodeWorld n;
    World& w = *n.w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.auth(w.key(2), "bridge-1", "bridge", "pw"));
    for (int i = 0; i < 3; ++i) {
        nlohmann::json entry = {{"id", chat::new_message_id(w.now)}, {"kind", "msg"}, {"from", "15550002"},
                                {"ts", w.now}, {"body", "hi"}};
        nlohmann::json batch = {{"entry", entry}, {"to", {"15550001"}}, {"direct", true}};
        REQUIRE(w.broker->on_message(w.key(2), "b/fanout", batch.dump(), {}).verdict == Verdict::pass);
    }
    REQUIRE(w.broker->on_message(w.key(0), "k/15550001", "2", {}).verdict == Verdict::rewrite);
    w.broker->wait_imported();
    auto forward = [&](const char* after) {
        auto r = w.broker->on_message(w.key(0), "s/15550001", after, {});
        REQUIRE(r.verdict == Verdict::rewrite);
        return nlohmann::json::parse(r.rewritten.payload);
    };
    CHECK(forward("1")["after"] == 1);   // within the inbox: as asked
    CHECK(forward("3")["after"] == 3);
    auto past = forward("9");            // past its end: from the cursor the device acked
    CHECK(past["after"] == 2);
    CHECK(past["upto"] == 3);
}

TEST_CASE("a fan-out batch naming a user this node knows is homed elsewhere is not acknowledged") {
    NodeWorld n;
    World& w = *n.w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.auth(w.key(2), "bridge-1", "bridge", "pw"));
    REQUIRE(w.broker->on_message(w.key(0), "m/15550002", "x", {}).rewritten.topic == "m/15550002");  // now cached
    nlohmann::json entry = {{"id", chat::new_message_id(w.now)}, {"kind", "msg"}, {"from", "15550003"},
                            {"ts", w.now}, {"body", "hi"}};
    nlohmann::json batch = {{"entry", entry}, {"to", {"15550001", "15550002"}}};
    // No PUBACK: the bridge sends it again after routing it anew; nothing was stored here.
    CHECK_THROWS_AS(w.broker->on_message(w.key(2), "b/fanout", batch.dump(), {}), chat::storage::Error);
    w.broker->wait_imported();
    auto db = w.open();
    CHECK(chat::storage::Inbox(db).entries_after("15550001", 0, 10).size() == 1);  // only the sent copy
}
