// chat-bench-cluster (issue 16): on three nodes over one PostgreSQL database, in one run, 1:1
// latency same-node vs cross-node at a moderate rate, broker (and bridge) CPU per same-node vs
// cross-node message, and the time from kill -9 of a user's home to the first message that user
// receives on its new home. Starts its own PostgreSQL, nodes and bridge.
#include "bridge/nodelay.h"
#include "common/entry.h"
#include "result.h"
#include "support/cluster_fixture.h"

#include <mqtt/async_client.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

using namespace chat::testing;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    int messages = 2000;      // per latency sample set and per CPU burst
    int rate = 200;           // latency phase: messages per second (half same-node, half cross-node)
    int64_t lease_ms = 5000;  // the plugin's default: what the failover figure means in practice
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

// The nodes get the last core, this process (the clients) the others; the bridge and PostgreSQL
// float. On this 2-core machine: nodes on 1, clients on 0.
int node_core() { return static_cast<int>(std::thread::hardware_concurrency()) - 1; }

void pin(pid_t pid, int first, int last) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = first; c <= last; ++c) CPU_SET(c, &set);
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        if (sched_setaffinity(static_cast<pid_t>(std::stol(task.path().filename().string())), sizeof set, &set) != 0) {
            throw std::runtime_error("sched_setaffinity failed");
        }
    }
}

// A device with a message callback that only records when each body arrived (never blocks).
class Device {
public:
    Device(int port, const ClusterDevice& d, bool subscribe)
        : client_("tcp://127.0.0.1:" + std::to_string(port), d.client_id(), mqtt::create_options(MQTTVERSION_5)) {
        client_.set_message_callback([this](mqtt::const_message_ptr m) {
            auto now = Clock::now();
            std::string body = chat::entry_from_json(m->to_string()).body;
            std::lock_guard lock(mu_);
            arrived_.emplace(body, now);  // the first copy counts
            if (!first_) first_ = now;
        });
        auto opts = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true)
                        .user_name(d.user).password(d.token).finalize();
        client_.connect(opts)->wait();
        chat::bridge::set_nodelay_to_port(port);  // Paho leaves Nagle on; a phone should not
        if (subscribe) client_.subscribe("u/" + d.user + "/i", 1)->wait();
    }
    ~Device() {
        try {
            if (client_.is_connected()) client_.disconnect()->wait();
        } catch (...) {
            // The node may be gone (the failover phase kills it).
        }
    }
    mqtt::delivery_token_ptr publish(const std::string& topic, const std::string& body) {
        return client_.publish(topic, body.data(), body.size(), 1, false);
    }
    std::optional<Clock::time_point> arrival(const std::string& body) {
        std::lock_guard lock(mu_);
        auto it = arrived_.find(body);
        if (it == arrived_.end()) return std::nullopt;
        return it->second;
    }
    size_t arrived() {
        std::lock_guard lock(mu_);
        return arrived_.size();
    }
    std::optional<Clock::time_point> first_arrival() {
        std::lock_guard lock(mu_);
        return first_;
    }

private:
    mqtt::async_client client_;
    std::mutex mu_;
    std::map<std::string, Clock::time_point> arrived_;  // guarded by mu_
    std::optional<Clock::time_point> first_;             // guarded by mu_
};

// Waits until `done` or throws after `seconds`.
void wait_until(const std::function<bool()>& done, int seconds, const std::string& what) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (!done()) {
        if (Clock::now() > deadline) throw std::runtime_error("timed out: " + what);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// Latency: alternating same-node and cross-node messages at a steady rate; publish -> arrival.
std::pair<std::vector<double>, std::vector<double>> latencies(Device& sender, Device& near, const std::string& near_user,
                                                              Device& far, const std::string& far_user, const Options& o) {
    std::vector<std::pair<std::string, Clock::time_point>> sent_near, sent_far;
    auto gap = std::chrono::microseconds(1'000'000 / o.rate);
    auto next = Clock::now();
    std::vector<mqtt::delivery_token_ptr> tokens;
    for (int i = 0; i < 2 * o.messages; ++i) {
        std::this_thread::sleep_until(next);
        next += gap;
        bool cross = i % 2 == 1;
        std::string body = (cross ? "far " : "near ") + std::to_string(i / 2);
        auto at = Clock::now();
        tokens.push_back(sender.publish("m/" + (cross ? far_user : near_user), body));
        (cross ? sent_far : sent_near).emplace_back(body, at);
    }
    for (auto& t : tokens) t->wait();
    wait_until([&] { return near.arrived() >= sent_near.size() && far.arrived() >= sent_far.size(); }, 60,
               "every latency message arriving");
    auto collect = [](Device& d, const auto& sent) {
        std::vector<double> ms;
        for (const auto& [body, at] : sent) ms.push_back(std::chrono::duration<double, std::milli>(*d.arrival(body) - at).count());
        return ms;
    };
    return {collect(near, sent_near), collect(far, sent_far)};
}

struct CpuSample {
    double nodes = 0, bridge = 0;
};

CpuSample cpu_now(ClusterFixture& c) {
    CpuSample s;
    for (const auto& id : c.node_ids()) s.nodes += c.node(id).cpu_seconds();
    s.bridge = c.bridge(0).cpu_seconds();
    return s;
}

// CPU per message of a burst to `to` (64 in flight), net of what the processes use idle.
CpuSample cpu_per_message(ClusterFixture& c, Device& sender, Device& receiver, const std::string& to,
                          const std::string& tag, const Options& o, const CpuSample& idle_per_s) {
    auto before = cpu_now(c);
    auto started = Clock::now();
    std::vector<mqtt::delivery_token_ptr> window;
    for (int i = 0; i < o.messages; ++i) {
        window.push_back(sender.publish("m/" + to, tag + " " + std::to_string(i)));
        if (window.size() == 64) {
            for (auto& t : window) t->wait();
            window.clear();
        }
    }
    for (auto& t : window) t->wait();
    wait_until([&] { return receiver.arrival(tag + " " + std::to_string(o.messages - 1)).has_value(); }, 60,
               tag + " burst arriving");
    // The inbox writes go on after the last delivery (the importer): let them finish.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    auto after = cpu_now(c);
    double n = o.messages;
    return {std::max(0.0, (after.nodes - before.nodes - idle_per_s.nodes * seconds)) / n * 1e6,
            std::max(0.0, (after.bridge - before.bridge - idle_per_s.bridge * seconds)) / n * 1e6};
}

int run(const Options& o) {
    // The nodes share a PostgreSQL database: without a test run's cluster, TestDatabase starts one.
    if (!testing_postgres()) setenv("CHAT_TEST_DB", "postgres", 1);
    ClusterOptions co;
    co.lease_ms = o.lease_ms;
    co.log_packets = false;
    ClusterFixture cluster(co);
    for (const auto& id : cluster.node_ids()) pin(cluster.node(id).pid(), node_core(), node_core());
    pin(getpid(), 0, std::max(0, node_core() - 1));

    auto alice = cluster.add_user_on("n1");  // the sender
    auto bob = cluster.add_user_on("n1");    // same node as alice
    auto carol = cluster.add_user_on("n2");  // another node
    Device a(cluster.node("n1").port(), alice, false);
    Device b(cluster.node("n1").port(), bob, true);
    Device c(cluster.node("n2").port(), carol, true);

    std::printf("chat-bench-cluster: 3 nodes on core %d, clients on the others, 1 bridge, PostgreSQL 15; "
                "lease %lld ms\n", node_core(), static_cast<long long>(o.lease_ms));
    auto [near_ms, far_ms] = latencies(a, b, bob.user, c, carol.user, o);
    double near50 = percentile(near_ms, 0.5), near99 = percentile(near_ms, 0.99);
    double far50 = percentile(far_ms, 0.5), far99 = percentile(far_ms, 0.99);
    std::printf("1:1 publish -> recipient, %d msg/s, %d each: same node p50 %.2f ms p99 %.2f ms; "
                "cross node p50 %.2f ms p99 %.2f ms\n", o.rate, o.messages, near50, near99, far50, far99);
    chat::bench::print_result("cluster.same_node_p50", near50, "ms");
    chat::bench::print_result("cluster.same_node_p99", near99, "ms");
    chat::bench::print_result("cluster.cross_node_p50", far50, "ms", near50);
    chat::bench::print_result("cluster.cross_node_p99", far99, "ms", near99);

    auto idle_before = cpu_now(cluster);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto idle_after = cpu_now(cluster);
    CpuSample idle{(idle_after.nodes - idle_before.nodes) / 2, (idle_after.bridge - idle_before.bridge) / 2};
    auto same = cpu_per_message(cluster, a, b, bob.user, "same", o, idle);
    auto cross = cpu_per_message(cluster, a, c, carol.user, "cross", o, idle);
    std::printf("CPU per message (all nodes together, idle use taken off), bursts of %d, 64 in flight: same node "
                "%.1f us, cross node %.1f us (+ bridge %.1f us)\n", o.messages, same.nodes, cross.nodes, cross.bridge);
    chat::bench::print_result("cluster.cpu_per_msg_same_node", same.nodes, "us");
    chat::bench::print_result("cluster.cpu_per_msg_cross_node", cross.nodes, "us", same.nodes);
    chat::bench::print_result("cluster.bridge_cpu_per_cross_msg", cross.bridge, "us");
    // What it predicts: with homes spread evenly, a message crosses nodes with chance (N-1)/N; a
    // node is one core, so N nodes carry N / (node CPU per message) messages per second (the
    // bridges need cores of their own besides).
    std::printf("prediction, one core per node, evenly spread homes:\n");
    for (int n : {1, 2, 4, 8, 16}) {
        double f = static_cast<double>(n - 1) / n;
        double us = (1 - f) * same.nodes + f * cross.nodes;
        std::printf("  %2d nodes: %.1f us node CPU per message -> %.0f msg/s; bridge cores busy: %.1f\n", n, us,
                    n * 1e6 / us, n * 1e6 / us * f * cross.bridge / 1e6);
    }
    std::fflush(stdout);  // the failover below kills a node: the report so far is out first

    // Failover: carol's home dies under a stream; carol follows the client rule (ask for her home
    // again until it names a live node, connect there, back off while refused) and waits for the
    // first message. The stream stops and joins however this ends (jthread).
    std::jthread stream([&](std::stop_token stop) {
        try {
            for (int i = 0; !stop.stop_requested(); ++i) {
                a.publish("m/" + carol.user, "after " + std::to_string(i))->wait();
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        } catch (const std::exception& e) {
            std::cerr << "stream: " << e.what() << "\n";
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto killed = Clock::now();
    cluster.crash("n2");
    std::string home;
    std::optional<Clock::time_point> rehomed;
    std::unique_ptr<Device> moved;
    while (!moved) {
        if (Clock::now() - killed > std::chrono::milliseconds(o.lease_ms) + std::chrono::seconds(30)) {
            throw std::runtime_error("carol found no new home");
        }
        try {
            home = cluster.settle_home(carol.user);
            if (home != "n2") {
                if (!rehomed) rehomed = Clock::now();
                moved = std::make_unique<Device>(cluster.node(home).port(), carol, true);
                break;
            }
        } catch (const std::exception&) {
            // No live node for her yet, or the new home has not seen the move yet: back off.
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto connected = Clock::now();
    wait_until([&] { return moved->first_arrival().has_value(); }, 60, "a message on carol's new home");
    stream.request_stop();
    stream.join();
    auto ms = [&](Clock::time_point t) { return std::chrono::duration<double, std::milli>(t - killed).count(); };
    double first_ms = ms(*moved->first_arrival());
    std::printf("kill -9 of carol's home -> rehomed %.0f ms, connected to %s %.0f ms, first message %.0f ms "
                "(lease %lld ms)\n", ms(*rehomed), home.c_str(), ms(connected), first_ms,
                static_cast<long long>(o.lease_ms));
    chat::bench::print_result("cluster.failover_first_message", first_ms, "ms", static_cast<double>(o.lease_ms));
    return 0;
}

}  // namespace

// Usage: chat-bench-cluster [--messages 2000] [--rate 200] [--lease-ms 5000]
int main(int argc, char** argv) {
    try {
        Options o;
        std::vector<std::string> args(argv + 1, argv + argc);
        for (size_t i = 0; i + 1 < args.size(); i += 2) {
            if (args[i] == "--messages") {
                o.messages = std::stoi(args[i + 1]);
            } else if (args[i] == "--rate") {
                o.rate = std::stoi(args[i + 1]);
            } else if (args[i] == "--lease-ms") {
                o.lease_ms = std::stoll(args[i + 1]);
            } else {
                throw std::invalid_argument("unknown flag " + args[i]);
            }
        }
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "chat-bench-cluster: " << e.what() << "\n";
        return 1;
    }
}
