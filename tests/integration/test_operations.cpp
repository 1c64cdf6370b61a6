// Operations with real processes: chatctl stats, backup and restore against a running (then
// stopped) broker, and the operator identity reading $SYS.
#include "common/identity.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "support/broker_fixture.h"
#include "support/kept_logs.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

const std::string alice = "15550001", bob = "15550002";

std::set<std::string> bodies_in(const std::filesystem::path& db_path, const std::string& user) {
    chat::storage::Database db(db_path.string());
    std::set<std::string> out;
    for (const auto& e : chat::storage::Inbox(db).entries_after(user, 0, 1'000'000)) out.insert(e.body);
    return out;
}

std::string integrity_of(const std::filesystem::path& db_path) {
    chat::storage::Database db(db_path.string());
    chat::storage::Statement check(db, "PRAGMA integrity_check");
    check.step();
    return check.text_at(0);
}

}  // namespace

TEST_CASE("chatctl stats prints users, devices, pending entries and the broker's live figures") {
    int metrics_port = free_port();
    BrokerOptions options;
    options.plugin_options["metrics_port"] = std::to_string(metrics_port);
    BrokerFixture broker(options);
    auto ta = broker.add_device(alice, "d1");
    broker.add_device(alice, "d2");
    broker.add_device(bob, "d1");
    MqttClient a(broker.port(), alice + "/d1");
    REQUIRE(a.connect(alice, ta) == 0);
    for (int i = 0; i < 3; ++i) REQUIRE(a.publish("m/" + bob, "pending " + std::to_string(i)) == 0);

    std::string out;
    // Bob's three entries and Alice's three `sent` copies: no device acked any.
    REQUIRE(eventually([&] {
        return broker.chatctl({"stats"}, &out) == 0 && out.find("pending_entries 6\n") != std::string::npos &&
               out.find("devices_online 1\n") != std::string::npos;
    }));
    CHECK(out.find("users 2\n") != std::string::npos);
    CHECK(out.find("devices 3\n") != std::string::npos);
    CHECK(out.find("media_bytes 0\n") != std::string::npos);
    CHECK(out.find("database_bytes ") != std::string::npos);
    CHECK(out.find("journal_bytes ") != std::string::npos);
    CHECK(out.find("connected_devices") == std::string::npos);  // only with the metrics port

    REQUIRE(broker.chatctl({"stats", "--metrics-port", std::to_string(metrics_port)}, &out) == 0);
    CHECK(out.find("connected_devices 1\n") != std::string::npos);
    CHECK(out.find("import_lag_publishes ") != std::string::npos);
    CHECK(broker.chatctl({"stats", "--metrics-port", "x"}, &out) == 2);
}

TEST_CASE("a backup taken while a publisher streams holds every message acknowledged before it began") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    broker.add_device(bob, "d1");
    MqttClient a(broker.port(), alice + "/d1");
    REQUIRE(a.connect(alice, ta) == 0);
    std::atomic<int> acked{0};
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        for (int i = 0; !stop; ++i) {
            if (a.publish("m/" + bob, "stream " + std::to_string(i)) != 0) break;
            acked = i + 1;
        }
    });
    REQUIRE(eventually([&] { return acked >= 300; }));
    int acked_before = acked;
    auto copy = broker.data_dir() / "backup.db";
    std::string out;
    int rc = broker.chatctl({"backup", copy.string()}, &out);
    REQUIRE(eventually([&] { return acked >= acked_before + 100; }));  // still streaming afterwards
    stop = true;
    publisher.join();
    INFO(out);
    REQUIRE(rc == 0);

    CHECK(integrity_of(copy) == "ok");
    auto saved = bodies_in(copy, bob);
    for (int i = 0; i < acked_before; ++i) CHECK(saved.contains("stream " + std::to_string(i)));
    CHECK(static_cast<int>(saved.size()) < acked);  // a snapshot, not what came after
    CHECK(broker.chatctl({"backup", copy.string()}, &out) == 1);  // never overwrites a file

    // Restore refuses while the broker holds the database, then puts the snapshot back.
    CHECK(broker.chatctl({"restore", copy.string()}, &out) == 1);
    CHECK(out.find("stop them") != std::string::npos);
    broker.stop();
    REQUIRE(static_cast<int>(bodies_in(broker.db_path(), bob).size()) == acked);
    REQUIRE(broker.chatctl({"restore", copy.string()}, &out) == 0);
    CHECK(bodies_in(broker.db_path(), bob) == saved);
    CHECK(integrity_of(broker.db_path()) == "ok");
    broker.start();
    MqttClient again(broker.port(), alice + "/d1");
    CHECK(again.connect(alice, ta) == 0);
}

TEST_CASE("restore refuses a damaged file and leaves the database as it was") {
    BrokerFixture broker;
    broker.add_device(alice, "d1");
    auto copy = broker.data_dir() / "backup.db";
    std::string out;
    REQUIRE(broker.chatctl({"backup", copy.string()}, &out) == 0);
    broker.stop();
    broker.add_device(bob, "d1");  // after the backup
    {
        // Damage every page but the first: integrity_check no longer says ok.
        std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(0, std::ios::end);
        auto size = static_cast<size_t>(f.tellg());
        REQUIRE(size > 8192);
        f.seekp(4096);
        std::string junk(size - 4096, '\x5a');
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    CHECK(broker.chatctl({"restore", copy.string()}, &out) == 1);
    INFO(out);
    CHECK(broker.chatctl({"restore", (broker.data_dir() / "missing.db").string()}, &out) == 1);
    REQUIRE(broker.chatctl({"user", "list"}, &out) == 0);
    CHECK(out.find(bob) != std::string::npos);
}

TEST_CASE("the operator identity reads $SYS/# with mosquitto_sub and is refused everything else") {
    TempDir secrets;
    auto secret_file = secrets.path() / "operator.secret";
    std::string secret = chat::new_device_token();
    remember_secret(secret);
    {
        std::ofstream f(secret_file);
        f << secret << "\n";
    }
    std::filesystem::permissions(secret_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    BrokerOptions options;
    options.plugin_options["operator_user"] = "ops";
    options.plugin_options["operator_password_file"] = secret_file.string();
    options.extra_config = "sys_interval 1";
    BrokerFixture broker(options);
    auto ta = broker.add_device(alice, "d1");
    std::string port = std::to_string(broker.port());

    std::string out;
    int rc = run_command({"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-u", "ops", "-P", secret, "-i", "ops-1",
                          "-t", "$SYS/#", "-v", "-C", "3", "-W", "20"},
                         out);
    CHECK(rc == 0);
    CHECK(out.rfind("$SYS/", 0) == 0);
    CHECK(run_command({"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-u", "ops", "-P", "wrong", "-i", "ops-2",
                       "-t", "$SYS/#", "-C", "1", "-W", "5"},
                      out) != 0);

    MqttClient ops(broker.port(), "ops-3");
    REQUIRE(ops.connect("ops", secret) == 0);
    for (const std::string& filter : {std::string("#"), "u/" + alice + "/i", std::string("u/+/i"), "p/" + alice}) {
        INFO(filter);
        CHECK(ops.subscribe(filter) == 0x87);
    }
    CHECK(ops.subscribe("$SYS/broker/clients/connected") == 1);
    for (const std::string& topic : {"m/" + alice, std::string("$SYS/broker/x"), std::string("p/ops"), std::string("b/fanout")}) {
        INFO(topic);
        CHECK(ops.publish(topic, "x") == 0x87);
    }
    // Not with a device's client id (it would take the device's connection over) nor a bridge's.
    CHECK(MqttClient(broker.port(), alice + "/d1").connect("ops", secret) == 0x87);
    CHECK(MqttClient(broker.port(), "chat-bridge-1").connect("ops", secret) == 0x87);
    // And a user still cannot read $SYS.
    MqttClient a(broker.port(), alice + "/d1");
    REQUIRE(a.connect(alice, ta) == 0);
    CHECK(a.subscribe("$SYS/#") == 0x87);
}
