// Integration tests of call signalling: real mosquitto + plugin, the real chat-bridge for the
// push hook, real MQTT clients, the real SQLite file and journal.
#include "common/entry.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/social.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

constexpr int not_authorized = 0x87;
const std::string alice = "15550001", bob = "15550002", carol = "15550003";

std::unique_ptr<MqttClient> connect(BrokerFixture& broker, const std::string& user, const std::string& device,
                                    const std::string& token) {
    auto c = std::make_unique<MqttClient>(broker.port(), user + "/" + device);
    REQUIRE(c->connect(user, token) == 0);
    return c;
}

std::string signal(const std::string& type, const std::string& call, nlohmann::json extra = nlohmann::json::object()) {
    extra["type"] = type;
    extra["call"] = call;
    return extra.dump();
}

// The next call signal of `type` on the device's call topic (other messages skipped).
nlohmann::json next_signal(MqttClient& client, const std::string& user, const std::string& type,
                           std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto m = client.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
        if (!m) break;
        if (m->topic != "u/" + user + "/v") continue;
        auto j = nlohmann::json::parse(m->payload);
        if (j["type"] == type) return j;
    }
    return {};
}

std::vector<chat::Entry> stored(const BrokerFixture& broker, const std::string& user) {
    chat::storage::Database db(broker.db_path().string());
    return chat::storage::Inbox(db).entries_after(user, 0, 1'000'000);
}

// Whether any file of the data folder but the logs holds `needle` (database, WAL, journal).
bool stored_anywhere(const BrokerFixture& broker, const std::string& needle) {
    for (const auto& f : std::filesystem::recursive_directory_iterator(broker.data_dir())) {
        if (!f.is_regular_file() || f.path().extension() == ".log") continue;
        std::ifstream in(f.path(), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (bytes.find(needle) != std::string::npos) return true;
    }
    return false;
}

// A local HTTP sink standing in for the push provider.
struct PushSink {
    httplib::Server server;
    int port = server.bind_to_any_port("127.0.0.1");
    std::mutex mu;
    std::vector<nlohmann::json> posts;
    std::thread thread;

    PushSink() {
        server.Post("/push", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(mu);
            posts.push_back(nlohmann::json::parse(req.body));
            res.status = 204;
        });
        thread = std::thread([this] { server.listen_after_bind(); });
    }
    ~PushSink() {
        server.stop();
        thread.join();
    }
    std::vector<nlohmann::json> for_user(const std::string& user) {
        std::lock_guard lock(mu);
        std::vector<nlohmann::json> out;
        for (const auto& j : posts) {
            if (j["user"] == user) out.push_back(j);
        }
        return out;
    }
};

}  // namespace

TEST_CASE("a call rings every callee device, the first answer wins, and no SDP is stored") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb1 = broker.add_device(bob, "d1");
    auto tb2 = broker.add_device(bob, "d2");
    auto a = connect(broker, alice, "d1", ta);
    auto b1 = connect(broker, bob, "d1", tb1);
    auto b2 = connect(broker, bob, "d2", tb2);
    const std::string sdp = "v=0 o=- SDP-MARKER-4711 2 IN IP4 127.0.0.1";

    REQUIRE(a->publish("v/" + bob, signal("offer", "call1", {{"sdp", sdp}, {"media", "video"}})) == 0);
    for (auto* device : {b1.get(), b2.get()}) {
        auto offer = next_signal(*device, bob, "offer");
        REQUIRE(offer.is_object());
        CHECK(offer["from"] == alice);
        CHECK(offer["sdp"] == sdp);
        CHECK(offer["media"] == "video");
    }
    REQUIRE(b1->publish("v/" + alice, signal("ringing", "call1")) == 0);
    CHECK(next_signal(*a, alice, "ringing")["from"] == bob);

    REQUIRE(b2->publish("v/" + alice, signal("answer", "call1", {{"sdp", "v=0 answer SDP-MARKER-4711"}})) == 0);
    auto answer = next_signal(*a, alice, "answer");
    CHECK(answer["from"] == bob);
    auto elsewhere = next_signal(*b1, bob, "hangup");
    CHECK(elsewhere["reason"] == "answered_elsewhere");
    CHECK(b1->publish("v/" + alice, signal("answer", "call1")) == not_authorized);

    REQUIRE(a->publish("v/" + bob, signal("ice", "call1", {{"candidate", "candidate:1 1 UDP 1 127.0.0.1 5000 typ host"}})) == 0);
    CHECK(next_signal(*b2, bob, "ice")["candidate"].is_string());
    REQUIRE(a->publish("v/" + bob, signal("hangup", "call1")) == 0);
    CHECK(next_signal(*b2, bob, "hangup")["from"] == alice);
    CHECK(next_signal(*b1, bob, "ice", 300ms).is_null());  // only the answering device heard the caller
    CHECK(a->publish("v/" + bob, signal("ice", "call1")) == not_authorized);  // the call is over

    // A stored message after the call: once it is in SQLite, so would anything stored before it be.
    REQUIRE(a->publish("m/" + bob, "after the call") == 0);
    REQUIRE(eventually([&] { return !stored(broker, bob).empty(); }));
    CHECK_FALSE(stored_anywhere(broker, "SDP-MARKER-4711"));
    CHECK(stored(broker, bob).size() == 1);
}

TEST_CASE("a blocked caller's offer is refused and rings nothing") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    {
        chat::storage::Database db(broker.db_path().string());
        chat::storage::Blocks(db).block(bob, alice);
    }
    auto a = connect(broker, alice, "d1", ta);
    auto b = connect(broker, bob, "d1", tb);
    CHECK(a->publish("v/" + bob, signal("offer", "c1", {{"sdp", "v=0"}})) == not_authorized);
    CHECK(next_signal(*b, bob, "offer", 300ms).is_null());
    // Bob may still call alice (the block is his).
    REQUIRE(b->publish("v/" + alice, signal("offer", "c2", {{"sdp", "v=0"}})) == 0);
    CHECK(next_signal(*a, alice, "offer")["from"] == bob);
}

TEST_CASE("an offer to an offline user pushes at once and rings out into missed-call notices in both inboxes") {
    PushSink sink;
    BrokerOptions options;
    options.plugin_options["call_ring_timeout_ms"] = "400";
    BrokerFixture broker(options);
    auto ta = broker.add_device(alice, "d1");
    broker.add_device(carol, "d1");
    BridgeProcess bridge(broker, {"--push-url", "http://127.0.0.1:" + std::to_string(sink.port) + "/push",
                                  "--push-debounce-ms", "600000"});
    auto a = connect(broker, alice, "d1", ta);
    REQUIRE(a->subscribe("u/" + alice + "/i") == 1);
    // A message first takes carol's debounce window; the ring must not wait for it.
    REQUIRE(a->publish("m/" + carol, "hello") == 0);
    REQUIRE(eventually([&] { return sink.for_user(carol).size() == 1; }));
    REQUIRE(a->publish("v/" + carol, signal("offer", "ring1", {{"sdp", "v=0"}})) == 0);
    REQUIRE(eventually([&] { return sink.for_user(carol).size() == 2; }));
    auto ring = sink.for_user(carol)[1];
    CHECK(ring["call"]["id"] == "ring1");
    CHECK(ring["call"]["from"] == alice);
    CHECK(ring["call"]["media"] == "voice");

    // Nobody answers: the caller hears "timeout", and both inboxes get the missed call.
    CHECK(next_signal(*a, alice, "hangup", 10s)["reason"] == "timeout");
    auto is_missed = [](const chat::Entry& e) {
        if (e.kind != "notice") return false;
        auto body = nlohmann::json::parse(e.body);
        return body["call"] == "ring1" && body["missed"] == true && body["media"] == "voice";
    };
    REQUIRE(eventually([&] {
        auto c = stored(broker, carol), own = stored(broker, alice);
        return std::any_of(c.begin(), c.end(), is_missed) && std::any_of(own.begin(), own.end(), is_missed);
    }));
    for (const auto& e : stored(broker, carol)) {
        if (e.kind == "notice") CHECK(e.from == alice);
    }
}
