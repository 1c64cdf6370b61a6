// chat-bench-bridge: group fan-out time to the LAST member (100 and 1000 members) through
// plugin + bridge versus native mosquitto fan-out to one plain topic, in the same run (the
// replay of a backlog is chat-bench-replay's). Starts its own brokers and bridge.
#include "common/entry.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/social.h"
#include "backend.h"
#include "result.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

using namespace chat;
using Clock = std::chrono::steady_clock;

namespace {


// Counts arrivals whose payload contains the current round's marker; remembers the last one's time.
struct Tally {
    std::atomic<int> arrived{0};
    std::atomic<int64_t> first_ns{0};
    std::atomic<int64_t> last_ns{0};
    std::string marker;  // set before each round, read in callbacks after the publish
    void hit() {
        last_ns = Clock::now().time_since_epoch().count();
        if (arrived++ == 0) first_ns = last_ns.load();
    }
};

struct Login {
    std::string client_id, user, password, topic;
};

// Connects (and subscribes) all clients concurrently: Paho's I/O thread notices new sockets
// only on its next poll cycle, so one-by-one connects would take about a second each.
std::vector<std::unique_ptr<mqtt::async_client>> connect_all(int port, const std::vector<Login>& logins,
                                                             Tally* tally) {
    std::vector<std::unique_ptr<mqtt::async_client>> clients;
    std::vector<mqtt::token_ptr> tokens;
    for (const auto& l : logins) {
        auto c = std::make_unique<mqtt::async_client>("tcp://127.0.0.1:" + std::to_string(port), l.client_id,
                                                      mqtt::create_options(MQTTVERSION_5));
        if (tally) {
            // Only counting here: the callback never blocks.
            c->set_message_callback([tally](mqtt::const_message_ptr m) {
                if (m->to_string().find(tally->marker) != std::string::npos) tally->hit();
            });
        }
        auto opts = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true)
                        .connect_timeout(std::chrono::seconds(60));
        if (!l.user.empty()) opts.user_name(l.user).password(l.password);
        tokens.push_back(c->connect(opts.finalize()));
        clients.push_back(std::move(c));
    }
    for (auto& t : tokens) t->wait();
    tokens.clear();
    for (size_t i = 0; i < clients.size(); ++i) {
        if (!logins[i].topic.empty()) tokens.push_back(clients[i]->subscribe(logins[i].topic, 1));
    }
    for (auto& t : tokens) t->wait();
    return clients;
}

void disconnect_all(std::vector<std::unique_ptr<mqtt::async_client>>& clients) {
    std::vector<mqtt::token_ptr> tokens;
    for (auto& c : clients) tokens.push_back(c->disconnect());
    for (auto& t : tokens) t->wait();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Publishes `rounds` times (after one untimed warm-up) and returns the median ms from publish to
// the last of `expected` arrivals.
double measure(mqtt::async_client& sender, const std::string& topic, Tally& tally, int expected, int rounds) {
    std::vector<double> ms;
    // Round -1 is an untimed warm-up: right after SUBACK some of many fresh clients are not
    // served yet, and the group-creation notices are still in flight.
    for (int r = -1; r < rounds; ++r) {
        tally.marker = "bench-" + std::to_string(r) + "-" + random_token(8);
        tally.arrived = 0;
        auto start = Clock::now();
        sender.publish(topic, tally.marker, 1, false)->wait();
        auto deadline = start + std::chrono::seconds(r < 0 ? 60 : 30);
        while (tally.arrived < expected && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (getenv("BENCH_DEBUG")) {
            std::fprintf(stderr, "round %d: %d arrived, first after %.2f ms\n", r, tally.arrived.load(),
                         static_cast<double>(tally.first_ns - start.time_since_epoch().count()) / 1e6);
        }
        if (tally.arrived < expected) throw std::runtime_error("only " + std::to_string(tally.arrived) + " of " + std::to_string(expected) + " arrived");
        if (r >= 0) ms.push_back(static_cast<double>(tally.last_ns - start.time_since_epoch().count()) / 1e6);
    }
    return median(ms);
}

double native_fanout(int members, int rounds) {
    testing::BrokerOptions options;
    options.with_plugin = false;
    testing::BrokerFixture broker(options);
    Tally tally;
    std::vector<Login> logins;
    for (int i = 0; i < members; ++i) logins.push_back({"s" + std::to_string(i), "", "", "bench/g"});
    auto subs = connect_all(broker.port(), logins, &tally);
    auto sender = connect_all(broker.port(), {{"sender", "", "", ""}}, nullptr);
    double ms = measure(*sender[0], "bench/g", tally, members, rounds);
    disconnect_all(subs);
    disconnect_all(sender);
    return ms;
}

// The broker's Receive Maximum (max_inflight_messages, default 20) used to throttle the bridge,
// which published one message per member; now it publishes one batch per chunk, so the bench
// keeps mosquitto's default. BENCH_INFLIGHT=N sets another value to compare.
testing::BrokerOptions bridge_broker() {
    testing::BrokerOptions options;
    if (const char* inflight = getenv("BENCH_INFLIGHT")) options.extra_config = "max_inflight_messages " + std::string(inflight);
    return options;
}

double bridge_fanout(int members, int rounds) {
    testing::BrokerFixture broker(bridge_broker());
    const std::string token = "bench-token";
    std::vector<std::string> users;
    {
        storage::Database db(broker.db_path().string());
        storage::Accounts accounts(db);
        storage::Transaction tx(db);
        for (int i = 0; i <= members; ++i) {
            users.push_back(std::to_string(17000000 + i));
            accounts.create_user(users.back(), now_ms());
            accounts.add_device(users.back(), "d1", hash_token(token), now_ms());
        }
        storage::Groups(db).create("gbench", "bench", users[0], {users.begin() + 1, users.end()}, now_ms());
        tx.commit();
    }
    testing::BridgeProcess bridge(broker);
    Tally tally;
    tally.marker = "not-yet";
    std::vector<Login> logins;
    for (int i = 1; i <= members; ++i) {
        const auto& u = users[static_cast<size_t>(i)];
        logins.push_back({u + "/d1", u, token, "u/" + u + "/i"});
    }
    auto subs = connect_all(broker.port(), logins, &tally);
    auto sender = connect_all(broker.port(), {{users[0] + "/d1", users[0], token, ""}}, nullptr);
    double ms = measure(*sender[0], "g/gbench", tally, members, rounds);
    disconnect_all(subs);
    disconnect_all(sender);
    return ms;
}

void encoding_sizes() {
    Entry e;
    e.ts = 1732300000123;
    e.id = new_message_id(e.ts);
    e.seq = 42;
    e.from = "15550001";
    e.to = "15550002";
    e.body = "twenty bytes of text";
    auto json = to_json(e).size();
    auto pack = to_msgpack(e).size();
    std::printf("entry encoding, 20-byte text: JSON %zu B, MessagePack %zu B (%.0f%% smaller)\n", json, pack,
                100.0 * (1.0 - static_cast<double>(pack) / static_cast<double>(json)));
}

std::vector<int> member_counts(const std::string& list) {
    std::vector<int> counts;
    for (size_t at = 0; at < list.size();) {
        size_t comma = std::min(list.find(',', at), list.size());
        counts.push_back(std::stoi(list.substr(at, comma - at)));
        at = comma + 1;
    }
    return counts;
}

}  // namespace

// Usage: chat-bench-bridge [--members 100,1000] [--rounds 7] [--backend sqlite|postgres]
int main(int argc, char** argv) {
    try {
        std::vector<std::string> args(argv + 1, argv + argc);
        auto option = [&](const std::string& name, const std::string& def) {
            auto it = std::find(args.begin(), args.end(), name);
            return it != args.end() && it + 1 != args.end() ? *(it + 1) : def;
        };
        const int rounds = std::stoi(option("--rounds", "7"));
        std::printf("database: %s\n", bench::select_backend(args) == "postgres" ? "PostgreSQL 15 (fsync off)" : "SQLite");
        std::printf("group fan-out, publish to LAST member, median of %d rounds (QoS 1, loopback)\n", rounds);
        std::fflush(stdout);
        for (int members : member_counts(option("--members", "100,1000"))) {
            double native = native_fanout(members, rounds);
            double bridged = bridge_fanout(members, rounds);
            std::printf("  %4d members: native mosquitto %7.2f ms | plugin+bridge %7.2f ms | ratio %.2fx\n", members,
                        native, bridged, bridged / native);
            bench::print_result("bridge.fanout_" + std::to_string(members) + "_members", bridged, "ms", native);
        }
        encoding_sizes();
    } catch (const std::exception& e) {
        std::cerr << "chat-bench-bridge: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
