// The lean encoding end to end: real mosquitto + plugin, the real bridge, real MQTT clients
// that never subscribe. A device that opted into nothing keeps getting JSON.
#include "common/lean.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/policy.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

const std::string alice = "15550001", bob = "15550002";

void make_lean(BrokerFixture& broker, const std::string& user, const std::string& device) {
    chat::storage::Database db(broker.db_path().string());
    chat::storage::Policy(db).set_encoding(user, device, chat::Encoding::lean);
}

std::unique_ptr<MqttClient> connect(BrokerFixture& broker, const std::string& user, const std::string& device,
                                    const std::string& token) {
    auto c = std::make_unique<MqttClient>(broker.port(), user + "/" + device);
    REQUIRE(c->connect(user, token) == 0);
    return c;
}

// The next publish on `topic`, skipping others.
std::optional<Received> next_on(MqttClient& c, const std::string& topic, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto m = c.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
        if (!m) break;
        if (m->topic == topic) return m;
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("lean devices: confirmation, live entry, short ack and the delivered receipt, with no SUBSCRIBE") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    make_lean(broker, alice, "d1");
    make_lean(broker, bob, "d1");
    BridgeProcess bridge(broker);
    auto a = connect(broker, alice, "d1", ta);
    auto b = connect(broker, bob, "d1", tb);

    REQUIRE(a->publish("m/" + bob, "twenty bytes of text") == 0);
    auto confirmed = next_on(*a, "c");
    REQUIRE(confirmed);
    auto mine = chat::lean::decode_confirmation(confirmed->payload);
    CHECK(mine.seq == 1);

    auto live = next_on(*b, "i");
    REQUIRE(live);
    CHECK(live->payload.size() == 53);
    auto e = chat::lean::decode_entry(live->payload, bob);
    CHECK(e.id == mine.id);
    CHECK(e.body == "twenty bytes of text");

    REQUIRE(b->publish("k/" + bob, std::to_string(e.seq)) == 0);
    auto receipt = next_on(*a, "i");
    REQUIRE(receipt);
    auto r = chat::lean::decode_entry(receipt->payload, alice);
    CHECK(r.kind == "receipt");
    CHECK(r.seq == 2);  // right after the confirmed seq 1: no gap
    CHECK(nlohmann::json::parse(r.body) == nlohmann::json{{"delivered", {mine.id}}});
}

TEST_CASE("a lean device that reconnects gets what it missed as pages, unasked, its own sends confirmed") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    make_lean(broker, bob, "d1");
    BridgeProcess bridge(broker);
    {
        auto b = connect(broker, bob, "d1", tb);
        REQUIRE(b->publish("m/" + alice, "from bob's phone", 1, user_props({{"cid", "b-1"}})) == 0);
        REQUIRE(next_on(*b, "c"));
        b->disconnect();
    }
    auto a = connect(broker, alice, "d1", ta);
    constexpr int missed = 150;
    for (int i = 0; i < missed; ++i) REQUIRE(a->publish("m/" + bob, "missed " + std::to_string(i)) == 0);

    auto b = connect(broker, bob, "d1", tb);  // and nothing else
    std::vector<chat::lean::PageElement> got;
    int pages = 0;
    while (got.size() < missed + 1) {
        auto page = next_on(*b, "r");
        REQUIRE(page);
        ++pages;
        for (auto& el : chat::lean::decode_page(page->payload, bob)) got.push_back(std::move(el));
    }
    CHECK(pages < missed / 10);  // pages, not an entry per publish
    REQUIRE(got.size() == missed + 1);
    CHECK(got[0].confirmation);  // its own send: seq, id and cid, never the body
    CHECK(got[0].confirmed.seq == 1);
    CHECK(got[0].confirmed.cid == "b-1");
    for (int i = 0; i < missed; ++i) {
        REQUIRE_FALSE(got[i + 1].confirmation);
        CHECK(got[i + 1].entry.seq == i + 2);
        CHECK(got[i + 1].entry.body == "missed " + std::to_string(i));
    }
}

TEST_CASE("a JSON device beside lean ones gets today's entries unchanged") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    auto tb2 = broker.add_device(bob, "d2");
    make_lean(broker, bob, "d2");
    BridgeProcess bridge(broker);
    auto a = connect(broker, alice, "d1", ta);
    auto b = connect(broker, bob, "d1", tb);
    REQUIRE(b->subscribe("u/" + bob + "/i") == 1);
    auto b2 = connect(broker, bob, "d2", tb2);
    REQUIRE(b2->subscribe("u/" + bob + "/i") == 1);  // denied to a lean device: it gets `i` instead
    REQUIRE(a->publish("m/" + bob, "hello") == 0);
    auto json = next_on(*b, "u/" + bob + "/i");
    REQUIRE(json);
    auto j = nlohmann::json::parse(json->payload);
    CHECK(j["body"] == "hello");
    CHECK(j["to"] == bob);
    CHECK(j.contains("ts"));
    CHECK_FALSE(next_on(*a, "c", 300ms));  // a JSON sender gets no confirmation
    auto lean = next_on(*b2, "i");
    REQUIRE(lean);
    CHECK(chat::lean::decode_entry(lean->payload, bob).body == "hello");
    CHECK_FALSE(next_on(*b2, "u/" + bob + "/i", 300ms));
}
