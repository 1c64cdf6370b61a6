// Integration tests of status updates: real broker + plugin, the real bridge fanning out and
// expiring, real MQTT clients, the real SQLite file.
#include "common/entry.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/social.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

const std::string alice = "15550001", bob = "15550002", carol = "15550003", dave = "15550004", erin = "15550005",
                  frank = "15550006";

std::vector<chat::Entry> stored(const BrokerFixture& broker, const std::string& user) {
    chat::storage::Database db(broker.db_path().string());
    return chat::storage::Inbox(db).entries_after(user, 0, 1'000'000);
}

std::vector<chat::Entry> of_kind(const std::vector<chat::Entry>& entries, const std::string& kind) {
    std::vector<chat::Entry> out;
    for (const auto& e : entries) {
        if (e.kind == kind) out.push_back(e);
    }
    return out;
}

// The next entry of `kind` on `client`'s inbox topic.
std::optional<chat::Entry> next_of_kind(MqttClient& client, const std::string& kind, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto m = client.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
        if (!m) break;
        auto e = chat::entry_from_json(m->payload);
        if (e.kind == kind) return e;
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("a status reaches its audience but for blocks either way, seen receipts reach the poster, and it expires") {
    BrokerOptions options;
    options.plugin_options["status_lifetime_ms"] = "4000";
    BrokerFixture broker(options);
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    auto te = broker.add_device(erin, "d1");
    broker.add_device(carol, "d1");
    broker.add_device(dave, "d1");
    auto tf = broker.add_device(frank, "d1");  // not in the audience
    {
        chat::storage::Database db(broker.db_path().string());
        chat::storage::Blocks(db).block(alice, carol);  // the poster blocked carol
        chat::storage::Blocks(db).block(dave, alice);   // dave blocked the poster
    }
    BridgeProcess bridge(broker, {"--sweep", "200ms"});
    MqttClient a(broker.port(), alice + "/d1"), b(broker.port(), bob + "/d1"), e(broker.port(), erin + "/d1");
    REQUIRE(a.connect(alice, ta) == 0);
    REQUIRE(b.connect(bob, tb) == 0);
    REQUIRE(e.connect(erin, te) == 0);
    REQUIRE(a.subscribe("u/" + alice + "/i") == 1);
    REQUIRE(b.subscribe("u/" + bob + "/i") == 1);
    REQUIRE(e.subscribe("u/" + erin + "/i") == 1);

    nlohmann::json post = {{"to", {bob, carol, dave, erin}}, {"body", "on holiday"}};
    REQUIRE(a.publish("st/" + alice, post.dump()) == 0);
    auto got = next_of_kind(b, "status");
    REQUIRE(got);
    CHECK(got->from == alice);
    CHECK(got->body == "on holiday");
    CHECK(got->expires_ms > 0);
    REQUIRE(next_of_kind(e, "status"));
    // One fan-out batch stored bob's and erin's copies: carol and dave were left out.
    REQUIRE(eventually([&] { return of_kind(stored(broker, bob), "status").size() == 1; }));
    CHECK(of_kind(stored(broker, carol), "status").empty());
    CHECK(of_kind(stored(broker, dave), "status").empty());
    CHECK(stored(broker, frank).empty());
    MqttClient f(broker.port(), frank + "/d1");
    REQUIRE(f.connect(frank, tf) == 0);
    CHECK(f.subscribe("u/" + bob + "/i") >= 0x80);  // nor can a non-member read a member's inbox
    CHECK(f.subscribe("st/" + alice) >= 0x80);

    // Bob's "seen" is a read receipt: alice gets it, erin (also in the audience) does not.
    REQUIRE(b.publish("r/" + alice, nlohmann::json{{"read", {got->id}}}.dump()) == 0);
    auto seen = a.next(10s);
    REQUIRE(seen);
    auto receipt = nlohmann::json::parse(seen->payload);
    CHECK(receipt["kind"] == "receipt");
    CHECK(receipt["from"] == bob);
    CHECK(receipt["read"] == nlohmann::json({got->id}));
    CHECK_FALSE(next_of_kind(e, "receipt", 500ms));

    // After its lifetime the status is gone from every inbox (the bridge's expiry sweep).
    REQUIRE(eventually([&] {
        return of_kind(stored(broker, bob), "status").empty() && of_kind(stored(broker, erin), "status").empty() &&
               of_kind(stored(broker, alice), "status").empty();
    }));
}

TEST_CASE("the poster deletes a status early: every copy loses its body") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    BridgeProcess bridge(broker);
    MqttClient a(broker.port(), alice + "/d1"), b(broker.port(), bob + "/d1");
    REQUIRE(a.connect(alice, ta) == 0);
    REQUIRE(b.connect(bob, tb) == 0);
    REQUIRE(b.subscribe("u/" + bob + "/i") == 1);
    REQUIRE(a.publish("st/" + alice, nlohmann::json{{"to", {bob}}, {"body", "oops"}}.dump()) == 0);
    auto got = next_of_kind(b, "status");
    REQUIRE(got);
    CHECK(b.publish("st/" + bob, "", 1, user_props({{"kind", "delete"}, {"ref", got->id}})) == 0x87);
    REQUIRE(a.publish("st/" + alice, "", 1, user_props({{"kind", "delete"}, {"ref", got->id}})) == 0);
    auto del = next_of_kind(b, "delete");
    REQUIRE(del);
    CHECK(del->ref == got->id);
    REQUIRE(eventually([&] {
        auto copies = of_kind(stored(broker, bob), "status");
        auto own = of_kind(stored(broker, alice), "status");
        return copies.size() == 1 && copies[0].body.empty() && own.size() == 1 && own[0].body.empty();
    }));
}
