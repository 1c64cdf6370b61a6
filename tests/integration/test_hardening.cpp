// Integration tests of the defences through a real mosquitto + plugin: live revocation, the
// bridge identity, TLS, the shipped memory limits, and what a PUBACK or a copy may reveal.
#include "storage/db.h"
#include "storage/inbox.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <mosquitto.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <iostream>
#include <thread>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

constexpr int not_authorized = 0x87;

int64_t last_seq(const BrokerFixture& broker, const std::string& user) {
    chat::storage::Database db(broker.db_path().string());
    return chat::storage::Inbox(db).last_seq(user).value_or(0);
}

// The development CA and server certificate, made by the set-up script into `dir`.
void make_secrets(const std::filesystem::path& dir) {
    std::string out;
    REQUIRE(run_command({CHAT_SOURCE_DIR "/scripts/make-secrets.sh", dir.string()}, out) == 0);
}

std::string tls_listener(int port, const std::filesystem::path& dir) {
    return "listener " + std::to_string(port) + " 127.0.0.1\ncertfile " + (dir / "tls/server.crt").string() +
           "\nkeyfile " + (dir / "tls/server.key").string() + "\n";
}

// A TCP connection that announces a CONNECT of `announced` bytes and then sends junk.
int flood_connect(int port, uint32_t announced) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::vector<unsigned char> header{0x10};
    for (uint32_t n = announced; ; ) {  // MQTT's variable-length "remaining length"
        unsigned char byte = n % 128;
        n /= 128;
        header.push_back(n ? byte | 0x80 : byte);
        if (!n) break;
    }
    ::send(fd, header.data(), header.size(), MSG_NOSIGNAL);
    return fd;
}

// Sends up to `bytes` of junk; returns how many the broker took before it closed the socket.
size_t push_junk(int fd, size_t bytes) {
    std::vector<char> chunk(64 * 1024, 'x');
    size_t sent = 0;
    while (sent < bytes) {
        ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            std::this_thread::sleep_for(5ms);
            continue;
        }
        if (n <= 0) break;
        sent += static_cast<size_t>(n);
    }
    return sent;
}

// The PUBACK line of one QoS 1 publish by device d1 of `user`: mosquitto_pub -d prints the
// reason code, which Paho does not report below 0x80.
std::string puback_line(int port, const std::string& user, const std::string& token, const std::string& topic) {
    std::string out;
    run_command({"mosquitto_pub", "-V", "mqttv5", "-d", "-p", std::to_string(port), "-i", user + "/d1", "-u", user, "-P",
                 token, "-q", "1", "-t", topic, "-m", "x"},
                out);
    auto at = out.find("PUBACK (");
    return at == std::string::npos ? std::string("none") : out.substr(at, out.find('\n', at) - at);
}

BrokerOptions with_config(std::string extra, bool log_packets = true) {
    BrokerOptions options;
    options.extra_config = std::move(extra);
    options.log_packets = log_packets;
    return options;
}

}  // namespace

TEST_CASE("a revoked device's live session is cut within a second, and only that device's") {
    BrokerFixture broker;
    auto token1 = broker.add_device("15550001", "d1");
    auto token2 = broker.add_device("15550001", "d2");
    MqttClient keep(broker.port(), "15550001/d1"), lost(broker.port(), "15550001/d2");
    REQUIRE(keep.connect("15550001", token1) == 0);
    REQUIRE(lost.connect("15550001", token2) == 0);
    auto start = std::chrono::steady_clock::now();
    REQUIRE(broker.chatctl({"device", "revoke", "15550001", "d2"}) == 0);
    REQUIRE(eventually([&] { return !lost.connected(); }, 5s));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    std::cout << "revoked session cut after " << ms << " ms\n";
    CHECK(keep.connected());
    broker.add_device("15550002", "d1");
    CHECK(keep.publish("m/15550002", "still here") != not_authorized);
}

TEST_CASE("the bridge secret logs in only from a configured bridge client id") {
    BrokerFixture broker;
    CHECK(MqttClient(broker.port(), "intruder").connect(broker.bridge_user(), broker.bridge_password()) == not_authorized);
    CHECK(MqttClient(broker.port(), "15550001/d1").connect(broker.bridge_user(), broker.bridge_password()) ==
          not_authorized);
    CHECK(MqttClient(broker.port(), "chat-bridge-2").connect(broker.bridge_user(), "wrong-secret-0123456789") ==
          not_authorized);
    MqttClient bridge(broker.port(), "chat-bridge-2");
    CHECK(bridge.connect(broker.bridge_user(), broker.bridge_password()) == 0);
}

TEST_CASE("the broker does not start with a sample or missing bridge secret") {
    TempDir dir;
    auto secret = dir.path() / "bridge.secret";
    std::ofstream(secret) << "dev-bridge-secret-change-me\n";
    std::filesystem::permissions(secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    for (const auto& file : {secret, dir.path() / "missing.secret"}) {
        INFO(file);
        std::ofstream(dir.path() / "m.conf") << "listener " << free_port() << " 127.0.0.1\nuser root\n"
                                             << "plugin " << CHAT_PLUGIN_PATH << "\nplugin_opt_db_path "
                                             << (dir.path() / "chat.db").string() << "\nplugin_opt_bridge_user bridge\n"
                                             << "plugin_opt_bridge_clients chat-bridge-1\n"
                                             << "plugin_opt_bridge_password_file " << file.string() << "\n";
        Process broker({"mosquitto", "-c", (dir.path() / "m.conf").string()}, dir.path() / "m.log", sanitizer_env());
        REQUIRE(eventually([&] { return !broker.running(); }, 10s));
        CHECK_THAT(broker.log(), Catch::Contains("event=plugin_init_failed") && Catch::Contains("secret"));
    }
}

TEST_CASE("MQTT over TLS: the development CA is trusted, another CA is refused, and the bridge connects over TLS") {
    TempDir secrets, other;
    make_secrets(secrets.path());
    make_secrets(other.path());
    int tls_port = free_port();
    BrokerFixture broker(with_config(tls_listener(tls_port, secrets.path())));
    REQUIRE(wait_for_port(tls_port, 5s));
    auto token = broker.add_device("15550001", "d1");
    broker.add_device("15550002", "d1");
    auto publish = [&](const std::filesystem::path& ca) {
        std::string out;
        return run_command({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(tls_port), "--cafile", ca.string(),
                            "-i", "15550001/d1", "-u", "15550001", "-P", token, "-q", "1", "-t", "m/15550002", "-m", "hi"},
                           out);
    };
    CHECK(publish(secrets.path() / "tls/ca.crt") == 0);
    CHECK(eventually([&] { return last_seq(broker, "15550002") == 1; }));
    CHECK(publish(other.path() / "tls/ca.crt") != 0);
    CHECK(last_seq(broker, "15550002") == 1);

    std::string address = "ssl://127.0.0.1:" + std::to_string(tls_port);
    BridgeProcess bridge(broker, {"--broker", address, "--ca-file", (secrets.path() / "tls/ca.crt").string()});
    CHECK_THAT(bridge.log(), Catch::Contains("event=bridge_connected broker=127.0.0.1:" + std::to_string(tls_port)));
    CHECK_THROWS(BridgeProcess(broker, {"--broker", address, "--ca-file", (other.path() / "tls/ca.crt").string()},
                               "chat-bridge-2"));
}

TEST_CASE("unauthenticated CONNECTs announcing 200 MB are cut off at the shipped max_packet_size") {
    BrokerFixture broker(with_config(shipped_config_lines({"max_packet_size"}), false));
    REQUIRE_FALSE(shipped_config_lines({"max_packet_size"}).empty());
    int64_t before = broker.anonymous_rss();
    std::vector<int> sockets;
    size_t taken = 0;
    for (int i = 0; i < 3; ++i) sockets.push_back(flood_connect(broker.port(), 200u << 20));
    for (int fd : sockets) taken += push_junk(fd, 100u << 20);
    int64_t after = broker.anonymous_rss();
    for (int fd : sockets) ::close(fd);
    std::cout << "pre-auth flood: broker took " << (taken >> 20) << " MiB, anonymous RSS " << (before >> 20) << " -> "
              << (after >> 20) << " MiB\n";
    CHECK(taken < (3u << 20) * 2);  // each socket closed after little more than what the kernel buffers
    CHECK(after - before < (32 << 20));
    CHECK(MqttClient(broker.port(), "15550001/d1").connect("15550001", broker.add_device("15550001", "d1")) == 0);
}

TEST_CASE("a subscriber that never reads costs the broker at most the shipped max_queued_bytes") {
    auto limits = shipped_config_lines({"max_packet_size", "max_queued_bytes"});
    REQUIRE(limits.find("max_queued_bytes") != std::string::npos);
    BrokerFixture broker(with_config(limits, false));
    auto alice_token = broker.add_device("15550001", "d1");
    auto bob_token = broker.add_device("15550002", "d1");
    // libmosquitto without its loop: after the SUBACK nothing reads the socket any more.
    mosquitto_lib_init();
    std::unique_ptr<mosquitto, decltype(&mosquitto_destroy)> bob(mosquitto_new("15550002/d1", true, nullptr),
                                                                 mosquitto_destroy);
    mosquitto_username_pw_set(bob.get(), "15550002", bob_token.c_str());
    REQUIRE(mosquitto_connect(bob.get(), "127.0.0.1", broker.port(), 60) == MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_subscribe(bob.get(), nullptr, "u/15550002/i", 1) == MOSQ_ERR_SUCCESS);
    for (int i = 0; i < 20; ++i) mosquitto_loop(bob.get(), 50, 1);

    MqttClient alice(broker.port(), "15550001/d1");
    REQUIRE(alice.connect("15550001", alice_token) == 0);
    int64_t before = broker.anonymous_rss();
    const std::string body(60 * 1024, 'x');
    int reconnects = 0;
    for (int i = 0; i < 2000; ++i) {
        // Past plugin_opt_max_import_backlog the broker closes the publisher's connection
        // without a PUBACK (nothing stored); it sends the message again once reconnected.
        while (alice.publish("m/15550002", body) != 0) {
            REQUIRE(eventually([&] { return !alice.connected(); }, 5s));
            REQUIRE(alice.connect("15550001", alice_token) == 0);
            ++reconnects;
        }
    }
    int64_t after = broker.anonymous_rss();
    std::cout << "slow subscriber: 2000 x 60 KB, anonymous RSS " << (before >> 20) << " -> " << (after >> 20)
              << " MiB, publisher reconnected " << reconnects << " times\n";
    // The queue limit bites: mosquitto drops the live copies past it.
    CHECK_THAT(broker.log(), Catch::Contains("Outgoing messages are being dropped for client 15550002/d1"));
    // Measured on the development VM: 213 MiB more with neither limit, 135-195 MiB with only
    // max_queued_bytes (the import's backlog held every body meanwhile), 69 MiB with both.
    // Under ASan freed memory sits in its quarantine, so the figure says nothing there.
    if (sanitizer_env().empty()) CHECK(after - before < (120 << 20));
    // Every message is stored all the same: the client gets what it missed by syncing.
    CHECK(eventually([&] { return last_seq(broker, "15550002") == 2000; }));
    mosquitto_lib_cleanup();
}

TEST_CASE("a typing event's PUBACK is the same whether the recipient is online or not") {
    BrokerFixture broker;
    auto alice_token = broker.add_device("15550001", "d1");
    auto bob_token = broker.add_device("15550002", "d1");
    std::string offline = puback_line(broker.port(), "15550001", alice_token, "t/15550002");
    MqttClient bob(broker.port(), "15550002/d1");
    REQUIRE(bob.connect("15550002", bob_token) == 0);
    REQUIRE(bob.subscribe("u/15550002/e") == 1);
    std::string online = puback_line(broker.port(), "15550001", alice_token, "t/15550002");
    CHECK_THAT(offline, Catch::Contains("RC:16"));  // 0x10: no subscribers, in both cases
    CHECK(online == offline);
    auto got = bob.next();
    REQUIRE(got);
    CHECK(got->topic == "u/15550002/e");
}

TEST_CASE("the sender's user properties do not travel on to the recipient") {
    BrokerFixture broker;
    auto alice_token = broker.add_device("15550001", "d1");
    auto bob_token = broker.add_device("15550002", "d1");
    MqttClient alice(broker.port(), "15550001/d1"), bob(broker.port(), "15550002/d1");
    REQUIRE(alice.connect("15550001", alice_token) == 0);
    REQUIRE(bob.connect("15550002", bob_token) == 0);
    REQUIRE(bob.subscribe("u/15550002/i") == 1);
    REQUIRE(alice.publish("m/15550002", "hi", 1, user_props({{"cid", "c-7"}, {"note", "private"}})) == 0);
    auto got = bob.next();
    REQUIRE(got);
    CHECK(got->user_properties == 0);
    CHECK(got->payload.find("c-7") == std::string::npos);
}

TEST_CASE("a dropped link's Will on p/{self} reaches the user's presence watchers") {
    BrokerFixture broker;
    auto alice_token = broker.add_device("15550001", "d1");
    auto bob_token = broker.add_device("15550002", "d1");
    MqttClient bob(broker.port(), "15550002/d1");
    REQUIRE(bob.connect("15550002", bob_token) == 0);
    REQUIRE(bob.subscribe("p/15550001") == 1);
    Process alice({"mosquitto_sub", "-p", std::to_string(broker.port()), "-i", "15550001/d1", "-u", "15550001", "-P",
                   alice_token, "-t", "u/15550001/i", "--will-topic", "p/15550001", "--will-payload", "offline",
                   "--will-qos", "1", "--will-retain"},
                  broker.data_dir() / "alice.log");
    REQUIRE(eventually([&] { return broker.log().find("15550001/d1") != std::string::npos; }, 5s));
    std::this_thread::sleep_for(300ms);
    alice.kill_hard();
    auto got = bob.next(5s);
    INFO(broker.log());
    REQUIRE(got);
    CHECK(got->topic == "p/15550001");
    CHECK(got->payload == "offline");
}

TEST_CASE("with the bridge running, a message's PUBACK is the same whether the recipient is online or not") {
    BrokerFixture broker;
    auto alice_token = broker.add_device("15550001", "d1");
    auto bob_token = broker.add_device("15550002", "d1");
    BridgeProcess bridge(broker);
    std::string offline = puback_line(broker.port(), "15550001", alice_token, "m/15550002");
    MqttClient bob(broker.port(), "15550002/d1");
    REQUIRE(bob.connect("15550002", bob_token) == 0);
    REQUIRE(bob.subscribe("u/15550002/i") == 1);
    std::string online = puback_line(broker.port(), "15550001", alice_token, "m/15550002");
    CHECK_THAT(offline, Catch::Contains("RC:0)"));
    CHECK(online == offline);
    REQUIRE(bob.next());
    CHECK(eventually([&] { return last_seq(broker, "15550002") == 2; }));
    CHECK_THAT(bridge.log(), !Catch::Contains("u/15550002/i"));
}

TEST_CASE("storage failing at CONNECT closes the connection instead of answering not authorised") {
    BrokerFixture broker;
    auto token = broker.add_device("15550001", "d1");
    {
        // The devices table cannot be read (renamed away meanwhile), as a damaged database or a
        // failing disk would refuse the login's read. CONNECT writes nothing to SQLite.
        chat::storage::Database db(broker.db_path().string());
        db.exec("ALTER TABLE devices RENAME TO devices_away");
        // mosquitto_pub waits for the answer as long as it takes (Paho would time out first).
        std::string out;
        int rc = run_command({"mosquitto_pub", "-V", "mqttv5", "-p", std::to_string(broker.port()), "-i", "15550001/d1",
                              "-u", "15550001", "-P", token, "-t", "m/15550002", "-m", "x"},
                             out);
        INFO(out);
        INFO(broker.log());
        CHECK(rc != 0);
        CHECK_THAT(broker.log(), Catch::Contains("chat: event=auth_failed"));
        CHECK_THAT(out, !Catch::Contains("authori"));  // "not authorised" would read as a revoked token
        db.exec("ALTER TABLE devices_away RENAME TO devices");
    }
    CHECK(eventually([&] { return MqttClient(broker.port(), "15550001/d1").connect("15550001", token) == 0; }, 15s));
}
