// Integration tests: a real mosquitto with the chat plugin, real MQTT clients, the real SQLite file.
#include "common/entry.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

constexpr int not_authorized = 0x87;

struct TwoUsers {
    BrokerFixture broker;
    std::string alice_token = broker.add_device("15550001", "d1");
    std::string bob_token = broker.add_device("15550002", "d1");
    MqttClient alice{broker.port(), "15550001/d1"};
    MqttClient bob{broker.port(), "15550002/d1"};

    TwoUsers() {
        REQUIRE(alice.connect("15550001", alice_token) == 0);
        REQUIRE(bob.connect("15550002", bob_token) == 0);
        REQUIRE(bob.subscribe("u/15550002/i") == 1);
    }
    std::vector<chat::Entry> stored(const std::string& user) {
        chat::storage::Database db(broker.db_path().string());
        return chat::storage::Inbox(db).entries_after(user, 0, 100000);
    }
};

}  // namespace

TEST_CASE("a wrong token, a foreign client id or a revoked device is refused at CONNECT") {
    BrokerFixture broker;
    auto token = broker.add_device("15550001", "d1");
    auto token2 = broker.add_device("15550001", "d2");
    // mosquitto answers a refused login with "not authorized": 0x87 (v5), return code 5 (v3.1.1).
    CHECK(MqttClient(broker.port(), "15550001/d1").connect("15550001", "wrong") == not_authorized);
    CHECK(MqttClient(broker.port(), "15550001/d2").connect("15550001", token) == not_authorized);
    CHECK(MqttClient(broker.port(), "someone").connect("15550001", token) == not_authorized);
    CHECK(MqttClient(broker.port(), "15550001/d1", false).connect("15550001", "wrong") == 5);
    CHECK(MqttClient(broker.port(), "15550001/d1").connect("15550001", token) == 0);
    REQUIRE(broker.chatctl({"device", "revoke", "15550001", "d2"}) == 0);
    CHECK(MqttClient(broker.port(), "15550001/d2").connect("15550001", token2) == not_authorized);
}

TEST_CASE("other users' inboxes or wildcards or $SYS cannot be subscribed") {
    TwoUsers t;
    for (auto filter : {"u/15550001/i", "u/+/i", "#", "+/15550002", "$SYS/#", "u/15550002/d/d2", "m/15550002"}) {
        INFO(filter);
        CHECK(t.bob.subscribe(filter) == not_authorized);
    }
    CHECK(t.bob.subscribe("u/15550002/e") == 1);
    CHECK(t.bob.subscribe("u/15550002/d/d1") == 1);
}

TEST_CASE("a direct message arrives on the recipient's inbox topic, stamped by the server") {
    TwoUsers t;
    // A client-supplied "from" (payload or property) changes nothing: the server stamps the sender.
    int rc = t.alice.publish("m/15550002", R"({"from":"15550009"})", 1, user_props({{"from", "15550009"}}));
    CHECK(rc == 0);
    auto got = t.bob.next();
    REQUIRE(got);
    CHECK(got->topic == "u/15550002/i");
    auto j = nlohmann::json::parse(got->payload);
    CHECK(j["from"] == "15550001");
    CHECK(j["to"] == "15550002");
    CHECK(j["seq"] == 1);
    CHECK(j["kind"] == "msg");
    CHECK(j["body"] == R"({"from":"15550009"})");
    CHECK(j["ts"].get<int64_t>() > 1700000000000);
    CHECK(j["id"].get<std::string>().size() >= 16);
    REQUIRE(eventually([&] { return t.stored("15550002").size() == 1; }));
    auto stored = t.stored("15550002");
    CHECK(stored[0].id == j["id"]);
    CHECK(t.alice.publish("u/15550002/i", "forged") == not_authorized);
}

TEST_CASE("mosquitto_pub and mosquitto_sub work as in the README walk-through") {
    TwoUsers t;
    std::string out;
    auto port = std::to_string(t.broker.port());
    REQUIRE(run_command({"mosquitto_pub", "-p", port, "-u", "15550001", "-P", t.alice_token, "-i", "15550001/d2x",
                         "-t", "m/15550002", "-m", "hello", "-q", "1"},
                        out) != 0);  // client id must name a real device
    REQUIRE(run_command({"mosquitto_pub", "-p", port, "-u", "15550001", "-P", t.alice_token, "-i", "15550001/d1",
                         "-t", "m/15550002", "-m", "hello", "-q", "1"},
                        out) == 0);
    auto got = t.bob.next();
    REQUIRE(got);
    CHECK(nlohmann::json::parse(got->payload)["body"] == "hello");
}

TEST_CASE("a binary body is delivered as body64") {
    TwoUsers t;
    CHECK(t.alice.publish("m/15550002", std::string("\x00\xff", 2)) == 0);
    auto got = t.bob.next();
    REQUIRE(got);
    CHECK(nlohmann::json::parse(got->payload)["body64"] == "AP8=");
}

TEST_CASE("typing is relayed live on the ephemeral topic and never stored") {
    TwoUsers t;
    REQUIRE(t.bob.subscribe("u/15550002/e") == 1);
    CHECK(t.alice.publish("t/15550002", "typing", 0) == 0);
    auto got = t.bob.next();
    REQUIRE(got);
    CHECK(got->topic == "u/15550002/e");
    CHECK(nlohmann::json::parse(got->payload)["from"] == "15550001");
    // A later message's arrival in SQLite proves the import got past the typing event.
    REQUIRE(t.alice.publish("m/15550002", "after") == 0);
    REQUIRE(eventually([&] { return !t.stored("15550002").empty(); }));
    auto stored = t.stored("15550002");
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].body == "after");
}

TEST_CASE("a blocked sender is refused with 0x87 and nothing is stored") {
    TwoUsers t;
    REQUIRE(t.broker.chatctl({"block", "15550002", "15550001"}) == 0);
    // The plugin polls for permission changes; the refusal appears within a moment.
    int rc = 0;
    size_t accepted = 0;
    for (int i = 0; i < 50 && rc != not_authorized; ++i) {
        rc = t.alice.publish("m/15550002", "hi");
        if (rc != not_authorized) {
            ++accepted;
            std::this_thread::sleep_for(50ms);
        }
    }
    CHECK(rc == not_authorized);
    CHECK(t.alice.publish("m/15550002", "again") == not_authorized);
    CHECK(eventually([&] { return t.stored("15550002").size() >= accepted; }));
    CHECK(t.stored("15550002").size() == accepted);
    REQUIRE(t.broker.chatctl({"unblock", "15550002", "15550001"}) == 0);
}

TEST_CASE("unknown recipients or oversize payloads or malformed control payloads are refused") {
    TwoUsers t;
    CHECK(t.alice.publish("m/15559999", "x") == not_authorized);
    CHECK(t.alice.publish("m/15550002", std::string(64 * 1024 + 1, 'x')) == not_authorized);
    CHECK(t.alice.publish("m/15550002", std::string(64 * 1024, 'x')) == 0);
    CHECK(t.alice.publish("k/15550001", "not json") == not_authorized);
    CHECK(t.alice.publish("s/15550001", R"({"after":-1})") == not_authorized);
    CHECK(t.alice.publish("r/15550002", R"({"read":"x"})") == not_authorized);
    CHECK(t.alice.publish("k/15550002", R"({"seq":1})") == not_authorized);
    CHECK(eventually([&] { return !t.stored("15550002").empty(); }));
    CHECK(t.stored("15550002").size() == 1);
}

TEST_CASE("an ack moves the device cursor") {
    TwoUsers t;
    REQUIRE(t.alice.publish("m/15550002", "one") == 0);
    REQUIRE(t.bob.next());
    CHECK(t.bob.publish("k/15550002", R"({"seq":1})") >= 0);
    chat::storage::Database db(t.broker.db_path().string());
    chat::storage::Statement cursor(db, "SELECT cursor FROM devices WHERE user_id = '15550002' AND device_id = 'd1'");
    CHECK(eventually([&] {
        chat::storage::ResetOnExit reset(cursor);
        return cursor.step() && cursor.int_at(0) == 1;
    }));
}

TEST_CASE("kill -9 after PUBACKs loses no acknowledged message and leaves seqs gap-free") {
    BrokerFixture broker;
    auto token = broker.add_device("15550001", "d1");
    broker.add_device("15550002", "d1");
    constexpr int total = 3000;
    std::set<std::string> acked;
    {
        mqtt::async_client client("tcp://127.0.0.1:" + std::to_string(broker.port()), "15550001/d1",
                                  mqtt::create_options(MQTTVERSION_5));
        client.connect(mqtt::connect_options_builder()
                           .mqtt_version(MQTTVERSION_5)
                           .user_name("15550001")
                           .password(token)
                           .finalize())
            ->wait();
        std::vector<std::pair<std::string, mqtt::delivery_token_ptr>> inflight;
        for (int i = 0; i < total; ++i) {
            std::string body = "msg-" + std::to_string(i);
            inflight.emplace_back(body, client.publish("m/15550002", body.data(), body.size(), 1, false));
            // The broker grants 20 in flight (max_inflight_messages): stay under it.
            if (i >= 16) inflight[static_cast<size_t>(i - 16)].second->wait();
        }
        broker.crash();  // with publishes still in flight
        for (auto& [body, tok] : inflight) {
            try {
                if (tok->wait_for(std::chrono::seconds(2)) && tok->get_return_code() == 0 && tok->get_reason_code() == 0) {
                    acked.insert(body);
                }
            } catch (const mqtt::exception&) {
            }
        }
    }
    REQUIRE(acked.size() >= static_cast<size_t>(total - 16));
    broker.start();  // the plugin reopens the crashed database
    MqttClient probe(broker.port(), "15550001/d1");
    REQUIRE(probe.connect("15550001", token) == 0);

    chat::storage::Database db(broker.db_path().string());
    auto entries = chat::storage::Inbox(db).entries_after("15550002", 0, 100000);
    std::set<std::string> stored;
    for (size_t i = 0; i < entries.size(); ++i) {
        CHECK(entries[i].seq == static_cast<int64_t>(i + 1));
        stored.insert(entries[i].body);
    }
    for (const auto& body : acked) {
        INFO(body);
        CHECK(stored.contains(body));
    }
}
