// The penetration matrix: every publish and subscribe form a device may try, forged and borrowed
// identities, against a real mosquitto + plugin. After each refusal, storage is unchanged.
#include "storage/db.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>

#include <iostream>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

constexpr int not_authorized = 0x87;
const std::string alice = "15550001", bob = "15550002", carol = "15550003";

// Alice (devices d1, d2), Bob, and Carol who blocked Alice; group ga holds Alice and Bob, gb
// only Bob and Carol. Alice's d1 is connected.
struct World {
    BrokerFixture broker;
    std::string alice_token = broker.add_device(alice, "d1");
    std::string alice_d2_token = broker.add_device(alice, "d2");
    std::string bob_token = broker.add_device(bob, "d1");
    std::string carol_token = broker.add_device(carol, "d1");
    MqttClient client{broker.port(), alice + "/d1"};

    World() {
        REQUIRE(broker.chatctl({"group", "create", "ga", "a", alice, bob}) == 0);
        REQUIRE(broker.chatctl({"group", "create", "gb", "b", bob, carol}) == 0);
        REQUIRE(broker.chatctl({"block", carol, alice}) == 0);
        REQUIRE(client.connect(alice, alice_token) == 0);
    }

    // Every row of every user's inbox and of the group outbox.
    int64_t stored_rows() {
        chat::storage::Database db(broker.db_path().string());
        chat::storage::Statement count(db, "SELECT (SELECT COUNT(*) FROM inbox) + (SELECT COUNT(*) FROM group_outbox)");
        count.step();
        return count.int_at(0);
    }
    // Publishes a message that is surely stored (two rows) and waits until SQLite has it: the
    // import is in journal order, so whatever was stored before it is in SQLite too. Returns
    // the rows stored before the sentinel.
    int64_t settled_rows() {
        std::string body = "sentinel-" + std::to_string(++sentinels);
        REQUIRE(client.publish("m/" + bob, body) == 0);
        REQUIRE(eventually([&] {
            chat::storage::Database db(broker.db_path().string());
            chat::storage::Statement found(db, "SELECT COUNT(*) FROM inbox WHERE body = ?");
            found.bind_blob(1, body);
            found.step();
            return found.int_at(0) == 2;  // Bob's entry and Alice's sent copy
        }));
        return stored_rows() - 2;
    }
    int sentinels = 0;
};

// What mosquitto and the plugin make of a publish: taken, refused with a PUBACK, or a protocol
// error (a wildcard in a publish topic) that closes the connection.
enum class Outcome { taken, refused, dropped };

struct PublishCase {
    std::string topic;
    std::string payload;
    Outcome outcome;
};

}  // namespace

TEST_CASE("penetration matrix: publishes a device may and may not make, and what a refusal stores") {
    World w;
    const std::vector<PublishCase> cases = {
        {"m/" + bob, "hi", Outcome::taken},
        {"m/" + alice, "to myself", Outcome::refused},
        {"m/" + carol, "blocked me", Outcome::refused},
        {"m/15559999", "nobody", Outcome::refused},
        {"m/+", "wildcard", Outcome::dropped},
        {"m/#", "wildcard", Outcome::dropped},
        {"m/" + bob + "/x", "too deep", Outcome::refused},
        {"m/", "no recipient", Outcome::refused},
        {"m/bob", "not a user id", Outcome::refused},
        {"g/ga", "member", Outcome::taken},
        {"g/gb", "not a member", Outcome::refused},
        {"g/gzz", "no such group", Outcome::refused},
        {"r/" + bob, R"({"read":["0000000000a00000001"]})", Outcome::refused},
        {"r/" + carol, R"({"read":["0000000000a00000001"]})", Outcome::refused},
        {"t/" + bob, "typing", Outcome::taken},
        {"t/" + carol, "typing", Outcome::refused},
        {"p/" + alice, "online", Outcome::taken},
        {"p/" + bob, "forged presence", Outcome::refused},
        {"k/" + alice, R"({"seq":0})", Outcome::taken},
        {"k/" + bob, R"({"seq":1})", Outcome::refused},
        {"s/" + alice, R"({"after":0})", Outcome::taken},
        {"s/" + bob, R"({"after":0})", Outcome::refused},
        {"u/" + bob + "/i", "forged entry", Outcome::refused},
        {"u/" + alice + "/i", "forged entry", Outcome::refused},
        {"u/" + alice + "/d/d2", "forged replay", Outcome::refused},
        {"b/fanout", R"({"entry":{},"to":[]})", Outcome::refused},
        {"b/replay", R"({"user":"15550002","device":"d1","entries":[]})", Outcome::refused},
        {"b/push/" + bob, R"({"pending":1})", Outcome::refused},
        {"$SYS/broker/x", "system", Outcome::refused},
        {"$share/bridge/g/ga", "shared", Outcome::refused},
        {"x/" + bob, "unknown kind", Outcome::refused},
    };
    size_t refused = 0;
    for (const auto& c : cases) {
        INFO(c.topic);
        int64_t before = w.settled_rows();
        int rc = w.client.publish(c.topic, c.payload);
        if (c.outcome == Outcome::taken) {
            CHECK(rc < 0x80);
            continue;
        }
        ++refused;
        if (c.outcome == Outcome::dropped) {
            CHECK(eventually([&] { return !w.client.connected(); }, 5s));
            REQUIRE(w.client.connect(alice, w.alice_token) == 0);
        } else {
            CHECK(rc == not_authorized);
        }
        CHECK(w.settled_rows() == before + 2);  // only the sentinel was added
    }
    std::cout << "penetration matrix: " << cases.size() << " publish forms, " << refused << " refused\n";
}

TEST_CASE("penetration matrix: subscriptions a device may and may not hold") {
    World w;
    const std::vector<std::pair<std::string, bool>> cases = {
        {"u/" + alice + "/i", true},
        {"u/" + alice + "/e", true},
        {"u/" + alice + "/d/d1", true},
        {"u/" + alice + "/d/d2", false},
        {"u/" + alice + "/d/+", false},
        {"u/" + alice + "/#", false},
        {"u/" + bob + "/i", false},
        {"u/+/i", false},
        {"p/" + bob, true},
        {"p/" + carol, false},
        {"p/+", false},
        {"#", false},
        {"+/" + alice, false},
        {"$SYS/#", false},
        {"$share/x/u/" + alice + "/i", false},
        {"$share/bridge/g/+", false},
        {"g/ga", false},
        {"m/" + alice, false},
        {"k/" + alice, false},
        {"b/fanout", false},
        {"b/push/" + alice, false},
    };
    for (const auto& [filter, allowed] : cases) {
        INFO(filter);
        int rc = w.client.subscribe(filter);
        if (allowed) {
            CHECK(rc == 1);
        } else {
            CHECK(rc == not_authorized);
        }
    }
    std::cout << "penetration matrix: " << cases.size() << " subscription forms\n";
}

TEST_CASE("penetration matrix: forged, borrowed and revoked identities are refused at CONNECT") {
    World w;
    REQUIRE(w.broker.chatctl({"device", "revoke", alice, "d2"}) == 0);
    struct Login {
        std::string client_id, user, password;
        const char* what;
    };
    const std::string bridge_secret = w.broker.bridge_password();
    const std::vector<Login> refused = {
        {alice + "/d1", alice, "wrong", "a wrong token"},
        {alice + "/d1", alice, "", "no token"},
        {bob + "/d1", alice, w.alice_token, "another user's client id"},
        {alice + "/d1", bob, w.alice_token, "another user's name"},
        {bob + "/d1", bob, w.alice_token, "another user's identity with my token"},
        {alice + "/d1", alice, w.bob_token, "another user's token"},
        {alice + "/d2", alice, w.alice_d2_token, "a revoked device"},
        {alice + "/d2", alice, w.alice_token, "a sibling device's token"},
        {alice, alice, w.alice_token, "a client id without a device"},
        {alice + "/D1", alice, w.alice_token, "a malformed device id"},
        {"", alice, w.alice_token, "no client id"},
        {"chat-bridge-1", alice, w.alice_token, "a bridge client id as a user"},
        {alice + "/d1", w.broker.bridge_user(), bridge_secret, "the bridge secret from a device's id"},
        {"chat-bridge-9", w.broker.bridge_user(), bridge_secret, "the bridge secret from an unlisted id"},
        {"chat-bridge-1", w.broker.bridge_user(), w.alice_token, "a device token as the bridge"},
        {"chat-bridge-1", w.broker.bridge_user(), "", "the bridge without a secret"},
    };
    for (const auto& l : refused) {
        INFO(l.what);
        MqttClient c(w.broker.port(), l.client_id);
        CHECK(c.connect(l.user, l.password) == not_authorized);
    }
    // A refused takeover of a live client id leaves the live session alone.
    CHECK(w.client.connected());
    CHECK(w.client.publish("m/" + bob, "still me") == 0);
    std::cout << "penetration matrix: " << refused.size() << " refused identities\n";
}
