// Metrics of every process over real HTTP: they parse as Prometheus text and move as traffic
// flows (refusals by reason, connects, imports, fan-outs, syncs); /healthz follows the import.
#include "storage/db.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"
#include "support/prometheus.h"

#include <catch2/catch.hpp>
#include <httplib.h>

#include <string>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

constexpr int not_authorized = 0x87;

using PluginOptions = std::map<std::string, std::string>;

struct MeteredBroker {
    int metrics_port = free_port();
    BrokerFixture broker;
    explicit MeteredBroker(PluginOptions options = {})
        : broker([&] {
              BrokerOptions o;
              o.plugin_options = std::move(options);
              o.plugin_options["metrics_port"] = std::to_string(metrics_port);
              return o;
          }()) {}
    std::map<std::string, double> scrape() { return chat::testing::scrape(metrics_port); }
    double value(const std::string& series) { return sample(scrape(), series); }
    int health() {
        auto res = httplib::Client("127.0.0.1", metrics_port).Get("/healthz");
        return res ? res->status : -1;
    }
};

}  // namespace

TEST_CASE("the plugin's metrics count connects, publishes and refusals by reason") {
    MeteredBroker m(PluginOptions{{"max_payload", "1000"}});
    auto alice_token = m.broker.add_device("15550001", "d1");
    auto bob_token = m.broker.add_device("15550002", "d1");
    auto before = m.scrape();
    CHECK(sample(before, "chat_broker_connected_devices") == 0);
    CHECK(before.contains(R"(chat_broker_refusals_total{reason="block"})"));

    CHECK(MqttClient(m.broker.port(), "15550001/d1").connect("15550001", "wrong") == not_authorized);
    CHECK(MqttClient(m.broker.port(), "15550001/d9").connect("15550001", alice_token) == not_authorized);
    MqttClient alice(m.broker.port(), "15550001/d1");
    MqttClient bob(m.broker.port(), "15550002/d1");
    REQUIRE(alice.connect("15550001", alice_token) == 0);
    REQUIRE(bob.connect("15550002", bob_token) == 0);
    CHECK(bob.subscribe("$SYS/#") == not_authorized);
    CHECK(alice.publish("m/15550002", "hello") == 0);
    CHECK(alice.publish("m/15550002", std::string(2000, 'x')) == not_authorized);
    CHECK(alice.publish("m/15550009", "nobody") == not_authorized);
    CHECK(alice.publish("k/15550001", "{\"seq\":\"x\"}") == not_authorized);
    REQUIRE(m.broker.chatctl({"block", "15550002", "15550001"}) == 0);
    REQUIRE(eventually([&] { return alice.publish("m/15550002", "blocked?") == not_authorized; }));

    auto after = m.scrape();
    CHECK(sample(after, "chat_broker_connected_devices") == 2);
    CHECK(sample(after, R"(chat_broker_connects_total{result="accepted"})") == 2);
    CHECK(sample(after, R"(chat_broker_auth_failures_total{reason="wrong_token"})") == 1);
    CHECK(sample(after, R"(chat_broker_auth_failures_total{reason="unknown_device"})") == 1);
    CHECK(sample(after, R"(chat_broker_publishes_total{kind="direct"})") >= 3);
    CHECK(sample(after, R"(chat_broker_publishes_total{kind="ack"})") == 1);
    CHECK(sample(after, R"(chat_broker_refusals_total{reason="acl"})") == 1);  // the $SYS subscription
    CHECK(sample(after, R"(chat_broker_refusals_total{reason="payload_size"})") == 1);
    CHECK(sample(after, R"(chat_broker_refusals_total{reason="unknown_recipient"})") == 1);
    CHECK(sample(after, R"(chat_broker_refusals_total{reason="malformed"})") == 1);
    CHECK(sample(after, R"(chat_broker_refusals_total{reason="block"})") >= 1);
    CHECK(sample(after, "chat_broker_journal_bytes_total") > 0);
    CHECK(sample(after, "chat_broker_journal_segments") >= 1);
    REQUIRE(eventually([&] { return m.value("chat_broker_import_records_total") >= 2; }));
    CHECK(m.value("chat_broker_import_batch_duration_seconds_count") >= 1);

    bob.disconnect();
    REQUIRE(eventually([&] { return m.value("chat_broker_connected_devices") == 1; }));
    CHECK(m.health() == 200);
}

TEST_CASE("the plugin's /healthz fails while the import into SQLite lags, and recovers", "[sqlite]") {
    MeteredBroker m(PluginOptions{{"max_import_lag_ms", "200"}});
    auto alice_token = m.broker.add_device("15550001", "d1");
    m.broker.add_device("15550002", "d1");
    MqttClient alice(m.broker.port(), "15550001/d1");
    REQUIRE(alice.connect("15550001", alice_token) == 0);
    CHECK(m.health() == 200);
    {
        // Another writer holds the database: the journal keeps taking publishes, the import waits.
        chat::storage::Database holder(m.broker.db_path().string());
        holder.exec("BEGIN EXCLUSIVE");
        CHECK(alice.publish("m/15550002", "while locked") == 0);
        REQUIRE(eventually([&] { return m.health() == 503; }));
        CHECK(m.value("chat_broker_import_lag_publishes") >= 1);
        CHECK(m.value("chat_broker_import_lag_ms") > 200);
        holder.exec("ROLLBACK");
    }
    REQUIRE(eventually([&] { return m.health() == 200; }, 30s));
    CHECK(m.value("chat_broker_import_lag_publishes") == 0);
}

TEST_CASE("the bridge's metrics count fan-outs, batches, syncs, replay pages and receipts") {
    BrokerFixture broker;
    auto ta = broker.add_device("15550001", "d1");
    auto tb = broker.add_device("15550002", "d1");
    REQUIRE(broker.chatctl({"group", "create", "gteam", "team", "15550001", "15550002"}) == 0);
    int port = free_port();
    BridgeProcess bridge(broker, {"--metrics-port", std::to_string(port), "--sweep", "100ms"});
    auto value = [&](const std::string& series) { return sample(scrape(port), series); };
    CHECK(value("chat_bridge_sync_requests_total") == 0);

    MqttClient alice(broker.port(), "15550001/d1");
    REQUIRE(alice.connect("15550001", ta) == 0);
    REQUIRE(alice.publish("g/gteam", "hello team") == 0);
    REQUIRE(eventually([&] { return value("chat_bridge_fanouts_done_total") == 1; }));
    CHECK(value("chat_bridge_fanout_entries_total") == 1);
    CHECK(value("chat_bridge_batches_sent_total") >= 1);
    REQUIRE(eventually([&] { return value("chat_bridge_fanouts_pending") == 0; }));

    MqttClient bob(broker.port(), "15550002/d1");
    REQUIRE(bob.connect("15550002", tb) == 0);
    REQUIRE(bob.subscribe("u/15550002/d/d1") == 1);
    REQUIRE(bob.publish("s/15550002", R"({"after":0})") == 0);
    REQUIRE(bob.collect(2).size() == 2);  // the membership notice and the message
    REQUIRE(eventually([&] { return value("chat_bridge_sync_requests_served_total") == 1; }));
    auto samples = scrape(port);
    CHECK(sample(samples, "chat_bridge_sync_requests_total") == 1);
    CHECK(sample(samples, "chat_bridge_replay_pages_total") == 1);
    CHECK(sample(samples, "chat_bridge_sync_requests_queued") == 0);
    CHECK(sample(samples, R"(chat_bridge_batch_answers_total{result="acked"})") ==
          sample(samples, "chat_bridge_batches_sent_total"));

    REQUIRE(bob.publish("k/15550002", R"({"seq":2})") == 0);  // delivered receipt for alice
    REQUIRE(eventually([&] { return value("chat_bridge_receipts_total") >= 1; }));
    auto health = httplib::Client("127.0.0.1", port).Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
}
