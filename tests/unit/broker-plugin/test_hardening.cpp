// Unit tests for the plugin's defences: revocation, rate limits, reconnect damping, property
// bounds and the contract's rules on what a publish may refer to.
#include "broker-plugin/broker.h"
#include "broker-plugin/broker_version.h"
#include "broker_world.h"
#include "storage/accounts.h"
#include "storage/inbox.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chat::broker;
using Verdict = MessageResult::Verdict;

namespace {

std::string id_of(const MessageResult& r) {
    return nlohmann::json::parse(r.rewritten.payload)["id"].get<std::string>();
}

}  // namespace

TEST_CASE("revoking a device disconnects its live session at the next refresh, and only it") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550001/d2"));
    w.broker->tick();
    CHECK(w.broker->take_kicks().empty());
    {
        auto db = w.open();
        REQUIRE(chat::storage::Accounts(db).revoke_device("15550001", "d2"));
    }
    w.now += 200;  // acl_refresh_ms
    w.broker->tick();
    CHECK(w.broker->take_kicks() == std::vector<std::string>{"15550001/d2"});
    CHECK(w.broker->take_kicks().empty());
    CHECK_FALSE(w.login(2, "15550001/d2"));
}

TEST_CASE("nothing of a closed connection stays: its session, user and refilled rate buckets go at the tick") {
    World w([](Config& c) {
        c.connect_limit = {10, 10};
        c.address_connect_limit = {10, 10};
    });
    REQUIRE(w.broker->authenticate(w.key(0), "15550001/d1", "15550001", w.tokens["15550001/d1"], "10.0.0.1") ==
            AuthResult::accepted);
    REQUIRE(w.broker->authenticate(w.key(1), "chat-bridge-1", "bridge", "pw", "10.0.0.2") == AuthResult::accepted);
    REQUIRE(w.broker->on_message(w.key(0), "m/15550002", "hi", {}).verdict == MessageResult::Verdict::rewrite);
    CHECK(w.broker->footprint().sessions == 2);
    CHECK(w.broker->footprint().users == 1);
    CHECK(w.broker->footprint().rate_buckets == 5);  // 2 client ids, 2 addresses, 1 user's publishes
    w.broker->on_disconnect(w.key(0));
    w.broker->on_disconnect(w.key(1));
    w.broker->tick();
    CHECK(w.broker->footprint().sessions == 0);
    CHECK(w.broker->footprint().users == 0);
    w.now += 2000;  // every bucket has refilled
    w.broker->tick();
    CHECK(w.broker->footprint().rate_buckets == 0);
}

TEST_CASE("a user over the publish rate is refused, then disconnected, and may publish again later") {
    World w([](Config& c) {
        c.publish_limit = {1, 3};
        c.refusals_before_kick = 2;
    });
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550001/d2"));
    for (int i = 0; i < 3; ++i) CHECK(w.broker->on_message(w.key(i % 2), "m/15550002", "x", {}).verdict == Verdict::rewrite);
    // The budget is the user's, whichever device spends it.
    CHECK(w.broker->on_message(w.key(1), "m/15550002", "x", {}).verdict == Verdict::deny);
    CHECK(w.broker->take_kicks().empty());
    CHECK(w.broker->on_message(w.key(1), "t/15550002", "x", {}).verdict == Verdict::deny);
    CHECK(w.broker->take_kicks() == std::vector<std::string>{"15550001/d2"});
    w.now += 1000;
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {}).verdict == Verdict::rewrite);
    w.broker->wait_imported();
    auto db = w.open();
    CHECK(chat::storage::Inbox(db).last_seq("15550002") == 4);
}

TEST_CASE("reconnect storms are damped per client id and per address, without saying not authorised") {
    World w([](Config& c) {
        c.connect_limit = {0.5, 2};
        c.address_connect_limit = {1, 2};
    });
    auto token = w.tokens["15550001/d1"];
    CHECK(w.broker->authenticate(w.key(0), "15550001/d1", "15550001", token, "10.0.0.1") == AuthResult::accepted);
    CHECK(w.broker->authenticate(w.key(1), "15550001/d1", "15550001", token, "10.0.0.1") == AuthResult::accepted);
    CHECK(w.broker->authenticate(w.key(2), "15550001/d1", "15550001", token, "10.0.0.1") == AuthResult::unavailable);
    CHECK(w.broker->authenticate(w.key(3), "15550002/d1", "15550002", w.tokens["15550002/d1"], "10.0.0.1") ==
          AuthResult::unavailable);  // the address has spent its burst
    CHECK(w.broker->authenticate(w.key(4), "15550002/d1", "15550002", w.tokens["15550002/d1"], "10.0.0.2") ==
          AuthResult::accepted);
    w.now += 2000;
    CHECK(w.broker->authenticate(w.key(5), "15550001/d1", "15550001", token, "10.0.0.1") == AuthResult::accepted);
}

TEST_CASE("user properties are bounded in count and size, and ref like cid in length") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    UserProperties many(9, {"x", "y"});
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", many).verdict == Verdict::deny);
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {{"note", std::string(1100, 'a')}}).verdict == Verdict::deny);
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {{"kind", "delete"}, {"ref", std::string(65, 'a')}}).verdict ==
          Verdict::deny);
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", UserProperties(8, {"x", "y"})).verdict == Verdict::rewrite);
}

TEST_CASE("a ttl of zero is refused however it is written") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    for (auto ttl : {"0", "00", "000000000", "-1", "1x", "1000000000"}) {
        INFO(ttl);
        CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {{"ttl", ttl}}).verdict == Verdict::deny);
    }
    auto r = w.broker->on_message(w.key(0), "m/15550002", "x", {{"ttl", "01"}});
    REQUIRE(r.verdict == Verdict::rewrite);
    CHECK(nlohmann::json::parse(r.rewritten.payload)["exp"] == w.now + 1000);
}

TEST_CASE("an edit may only refer to the editor's own message") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550002/d1"));
    std::string mine = id_of(w.broker->on_message(w.key(0), "m/15550002", "original", {}));
    std::string theirs = id_of(w.broker->on_message(w.key(1), "m/15550001", "reply", {}));
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "forged", {{"kind", "edit"}, {"ref", theirs}}).verdict ==
          Verdict::deny);
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "forged", {{"kind", "edit"}, {"ref", "0000000000000000000"}})
              .verdict == Verdict::deny);
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "fixed", {{"kind", "edit"}, {"ref", mine}}).verdict ==
          Verdict::rewrite);
}

TEST_CASE("a member listed twice in a fan-out batch gets one copy and one seq") {
    World w;
    REQUIRE(w.auth(w.key(0), "chat-bridge-1", "bridge", "pw"));
    nlohmann::json entry = {{"id", "0000000000a00000001"}, {"kind", "msg"}, {"from", "15550001"},
                            {"gid", "g1"}, {"ts", w.now}, {"body", "hi"}};
    nlohmann::json batch = {{"entry", entry}, {"to", {"15550002", "15550003", "15550002"}}};
    auto r = w.broker->on_message(w.key(0), "b/fanout", batch.dump(), {});
    REQUIRE(r.verdict == Verdict::pass);
    w.broker->wait_imported();
    auto db = w.open();
    chat::storage::Inbox inbox(db);
    CHECK(inbox.last_seq("15550002") == 1);
    CHECK(inbox.last_seq("15550003") == 1);
    // The next entry follows without a gap.
    REQUIRE(w.login(1, "15550001/d1"));
    REQUIRE(w.broker->on_message(w.key(1), "m/15550002", "next", {}).verdict == Verdict::rewrite);
    w.broker->wait_imported();
    CHECK(inbox.last_seq("15550002") == 2);
    CHECK(inbox.entries_after("15550002", 0, 10).size() == 2);
}

TEST_CASE("the broker's version is read from its executable image") {
    using namespace std::string_literals;
    CHECK(mosquitto_2_0_patch_level("\0mosquitto version %s\0"s + "2.0.11\0more"s) == 11);
    CHECK(mosquitto_2_0_patch_level("xx\0"s + "2.0.18\0"s + "2.0.18\0"s) == 18);
    CHECK_FALSE(mosquitto_2_0_patch_level("\0"s + "2.0.11\0"s + "2.0.15\0"s));  // ambiguous
    CHECK_FALSE(mosquitto_2_0_patch_level("v2.0.11\0"s));                       // not a whole string
    CHECK_FALSE(mosquitto_2_0_patch_level("\0"s + "2.0.\0"s));
    CHECK_FALSE(mosquitto_2_0_patch_level(""));
    CHECK_FALSE(frees_replaced_message_fields(11));
    CHECK(frees_replaced_message_fields(15));
}

TEST_CASE("a closed connection may still publish its Will on p/{self}, and nothing else, until the next tick") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    w.broker->on_disconnect(w.key(0));
    CHECK(w.broker->connected_devices("15550001") == 0);
    CHECK(w.broker->acl(w.key(0), Access::write, "p/15550001", 7));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "p/15550002", 7));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "m/15550002", 7));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::read, "p/15550002", 7));
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {}).verdict == Verdict::deny);
    w.broker->tick();
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "p/15550001", 7));
    // A new connection on the same handle before the tick keeps its session.
    REQUIRE(w.login(1, "15550002/d1"));
    w.broker->on_disconnect(w.key(1));
    REQUIRE(w.login(1, "15550002/d1"));
    w.broker->tick();
    CHECK(w.broker->acl(w.key(1), Access::write, "m/15550001", 1));
}

TEST_CASE("a cid reused for another recipient stores a new message instead of redelivering the old one") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    auto first = w.broker->on_message(w.key(0), "m/15550002", "to bob", {{"cid", "c-1"}});
    auto other = w.broker->on_message(w.key(0), "m/15550003", "to carol", {{"cid", "c-1"}});
    REQUIRE(other.verdict == Verdict::rewrite);
    CHECK(other.rewritten.topic == "u/15550003/i");
    CHECK(id_of(other) != id_of(first));
    CHECK(nlohmann::json::parse(other.rewritten.payload)["body"] == "to carol");
    // A retry towards the first recipient is still the same message.
    auto retry = w.broker->on_message(w.key(0), "m/15550002", "to bob", {{"cid", "c-1"}});
    CHECK(retry.rewritten.payload == first.rewritten.payload);
    w.broker->wait_imported();
    auto db = w.open();
    chat::storage::Inbox inbox(db);
    CHECK(inbox.last_seq("15550002") == 1);
    CHECK(inbox.last_seq("15550003") == 1);
    CHECK(inbox.last_seq("15550001") == 2);
}

TEST_CASE("past the import backlog limit a publish is not taken, until the import catches up") {
    World w([](Config& c) { c.max_import_backlog = 1; });
    REQUIRE(w.login(0, "15550001/d1"));
    w.broker->wait_imported();  // the login's online flag: a small record, never refused
    REQUIRE(w.broker->on_message(w.key(0), "m/15550002", "first", {}).verdict == Verdict::rewrite);
    // The importer runs every 25 ms: the next publishes find the first one still in memory.
    bool refused = false;
    for (int i = 0; i < 100 && !refused; ++i) {
        try {
            w.broker->on_message(w.key(0), "m/15550002", "more", {});
        } catch (const chat::storage::Error&) {
            refused = true;
        }
    }
    CHECK(refused);
    w.broker->wait_imported();
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "later", {}).verdict == Verdict::rewrite);
}
