// chat-bench-replay: a backlog of 20-byte texts replayed to one device in each encoding (JSON,
// compact, lean), through the real broker, plugin and bridge: time to the last entry, and the
// MQTT bytes the device receives and sends per replayed entry. JSON is the baseline.
#include "backend.h"
#include "result.h"

#include "common/identity.h"
#include "common/lean.h"
#include "storage/accounts.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/policy.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

using namespace chat;
using Clock = std::chrono::steady_clock;

namespace {

const std::string user = "17200001", token = "bench-token";

// The size of an MQTT v5 QoS 1 PUBLISH carrying `m` as received (fixed header, topic, packet
// id, properties, payload), and of the PUBACK the device answers it with.
size_t publish_bytes(const mqtt::const_message_ptr& m) {
    size_t props = 0;  // this bench sets none; mosquitto adds none to these
    size_t remaining = 2 + m->get_topic().size() + 2 + 1 + props + m->get_payload().size();
    size_t length_bytes = remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4;
    constexpr size_t puback = 4;
    return 1 + length_bytes + remaining + puback;
}

struct Result {
    double ms = 0;
    double bytes_per_entry = 0;
    size_t publishes = 0;
};

// Counts entries as the device's encoding packs them: one per publish, or a page of several.
size_t entries_in(Encoding encoding, const mqtt::const_message_ptr& m) {
    if (encoding == Encoding::json) return m->get_topic() == "u/" + user + "/d/d1" ? 1 : 0;
    if (encoding == Encoding::compact) return nlohmann::json::from_msgpack(m->get_payload_str()).size();
    return m->get_topic() == lean::page_topic ? lean::decode_page(m->get_payload_str(), user).size() : 0;
}

Result replay(int entries, Encoding encoding) {
    testing::BrokerFixture broker;
    {
        storage::Database db(broker.db_path().string());
        storage::Accounts accounts(db);
        accounts.create_user(user, now_ms());
        accounts.add_device(user, "d1", hash_token(token), now_ms());
        storage::Policy(db).set_encoding(user, "d1", encoding);
        storage::Inbox inbox(db);
        storage::Transaction tx(db);
        for (int i = 0; i < entries; ++i) {
            Entry e;
            e.ts = now_ms();
            e.id = new_message_id(e.ts);
            e.from = "17200002";
            e.to = user;
            e.body = "replayed text " + std::to_string(100000 + i);  // 20 bytes
            inbox.append(user, e);
        }
        tx.commit();
    }
    testing::BridgeProcess bridge(broker);
    std::atomic<size_t> arrived{0}, bytes{0}, publishes{0};
    std::atomic<int64_t> last_ns{0};
    mqtt::async_client device("tcp://127.0.0.1:" + std::to_string(broker.port()), user + "/d1",
                              mqtt::create_options(MQTTVERSION_5));
    device.set_message_callback([&](mqtt::const_message_ptr m) {
        bytes += publish_bytes(m);
        ++publishes;
        arrived += entries_in(encoding, m);
        last_ns = Clock::now().time_since_epoch().count();
    });
    auto opts = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true)
                    .user_name(user).password(token).finalize();
    auto start = Clock::now();
    device.connect(opts)->wait();
    if (encoding != Encoding::lean) {  // a lean device's replay starts by itself
        device.subscribe("u/" + user + "/d/d1", 1)->wait();
        device.publish("s/" + user, "0", 1, false)->wait();
    }
    auto deadline = start + std::chrono::seconds(60);
    while (arrived < static_cast<size_t>(entries) && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (arrived < static_cast<size_t>(entries)) throw std::runtime_error("replay incomplete: " + std::to_string(arrived));
    device.disconnect()->wait();
    Result r;
    r.ms = static_cast<double>(last_ns - start.time_since_epoch().count()) / 1e6;
    r.bytes_per_entry = static_cast<double>(bytes) / entries;
    r.publishes = publishes;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::vector<std::string> args(argv + 1, argv + argc);
        int entries = !args.empty() && args[0][0] != '-' ? std::atoi(args[0].c_str()) : 10000;
        if (entries <= 0) throw std::invalid_argument("usage: chat-bench-replay [ENTRIES] [--backend sqlite|postgres]");
        std::printf("database: %s\n", bench::select_backend(args) == "postgres" ? "PostgreSQL 15 (fsync off)" : "SQLite");
        std::printf("replay of %d missed 20-byte texts to one device (from CONNECT to the last entry)\n", entries);
        Result json;
        for (auto [name, encoding] : {std::pair{"json", Encoding::json}, std::pair{"compact", Encoding::compact},
                                      std::pair{"lean", Encoding::lean}}) {
            Result r = replay(entries, encoding);
            if (encoding == Encoding::json) json = r;
            std::printf("  %-8s %8.0f ms  %6zu publishes  %6.1f B per entry (MQTT, both ways)  bytes ratio to JSON %.2f\n",
                        name, r.ms, r.publishes, r.bytes_per_entry, r.bytes_per_entry / json.bytes_per_entry);
            bench::print_result(std::string("replay.") + name + "_ms", r.ms, "ms");
            if (encoding == Encoding::json) {
                bench::print_result("replay.json_bytes_per_entry", r.bytes_per_entry, "B");
            } else {
                bench::print_result(std::string("replay.") + name + "_bytes_per_entry", r.bytes_per_entry, "B",
                                    encoding == Encoding::lean ? "<=60" : "-");
            }
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::cerr << "chat-bench-replay: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
