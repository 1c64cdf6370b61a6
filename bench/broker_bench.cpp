// chat-bench-broker: direct-message QoS1 throughput and latency through mosquitto + chat
// plugin, against bare mosquitto with the same config, measured in the same run.
#include "support/broker_fixture.h"

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono;
using chat::testing::BrokerFixture;
using chat::testing::BrokerOptions;

namespace {

constexpr int window = 64;  // QoS1 publishes in flight (the broker grants 100)
constexpr size_t payload_size = 64;

struct Target {
    std::string name;
    const BrokerFixture* broker;
    int port;
    std::string pub_user, pub_pass, pub_id, sub_user, sub_pass, sub_id;
    std::string topic, filter;
    bool envelope;  // payload arrives wrapped in an inbox entry
};

struct Result {
    double msgs_per_s = 0;
    double broker_cpu_us = 0;  // broker CPU time per message
    double p50_ms = 0, p99_ms = 0, puback_p50_ms = 0, puback_p99_ms = 0;
};

int64_t now_ns() { return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count(); }

// Counts PUBACKs so the publisher can keep a bounded window, and times each one.
class AckCounter : public virtual mqtt::callback {
public:
    void delivery_complete(mqtt::delivery_token_ptr) override {
        std::lock_guard lock(mu_);
        ++acked_;
        cv_.notify_all();
    }
    void wait_below(int64_t sent, int64_t limit) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return sent - acked_ < limit; });
    }
    int64_t acked() {
        std::lock_guard lock(mu_);
        return acked_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int64_t acked_ = 0;
};

mqtt::connect_options options(const std::string& user, const std::string& pass) {
    auto b = mqtt::connect_options_builder().mqtt_version(MQTTVERSION_5).clean_start(true);
    if (!user.empty()) b.user_name(user).password(pass);
    return b.finalize();
}

std::string stamped_payload() {
    std::string p = std::to_string(now_ns());
    p.resize(payload_size, '.');
    return p;
}

int64_t stamp_of(const std::string& payload, bool envelope) {
    std::string body = envelope ? nlohmann::json::parse(payload)["body"].get<std::string>() : payload;
    return std::stoll(body.substr(0, body.find('.')));
}

double percentile(std::vector<int64_t>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))]) / 1e6;
}

// Publishes `count` messages, at `rate` per second (0 = as fast as the window allows).
Result run(const Target& t, int count, double rate) {
    mqtt::async_client sub("tcp://127.0.0.1:" + std::to_string(t.port), t.sub_id, mqtt::create_options(MQTTVERSION_5));
    mqtt::async_client pub("tcp://127.0.0.1:" + std::to_string(t.port), t.pub_id, mqtt::create_options(MQTTVERSION_5));
    AckCounter acks;
    pub.set_callback(acks);
    sub.start_consuming();
    sub.connect(options(t.sub_user, t.sub_pass))->wait();
    sub.subscribe(t.filter, 1)->wait();
    pub.connect(options(t.pub_user, t.pub_pass))->wait();

    std::vector<int64_t> latencies;
    latencies.reserve(static_cast<size_t>(count));
    std::thread receiver([&] {
        for (int got = 0; got < count;) {
            mqtt::const_message_ptr m;
            if (!sub.try_consume_message_for(&m, seconds(10)) || !m) break;
            latencies.push_back(now_ns() - stamp_of(m->to_string(), t.envelope));
            ++got;
        }
    });
    double cpu_before = t.broker->cpu_seconds();
    int64_t start = now_ns();
    for (int i = 0; i < count; ++i) {
        if (rate > 0) {
            auto due = start + static_cast<int64_t>(1e9 * i / rate);
            while (now_ns() < due) std::this_thread::yield();
        }
        acks.wait_below(i, window);
        pub.publish(t.topic, stamped_payload(), 1, false);
    }
    receiver.join();
    int64_t elapsed = now_ns() - start;
    Result r;
    r.broker_cpu_us = (t.broker->cpu_seconds() - cpu_before) * 1e6 / count;
    r.msgs_per_s = static_cast<double>(latencies.size()) * 1e9 / static_cast<double>(elapsed);
    if (static_cast<int>(latencies.size()) != count) {
        std::fprintf(stderr, "%s: only %zu of %d messages arrived\n", t.name.c_str(), latencies.size(), count);
    }
    r.p50_ms = percentile(latencies, 0.50);
    r.p99_ms = percentile(latencies, 0.99);
    pub.disconnect()->wait();
    sub.disconnect()->wait();
    return r;
}

void print(const char* phase, const Target& t, const Result& r) {
    std::printf("%-10s %-16s %8.0f msg/s   p50 %7.3f ms   p99 %7.3f ms   broker CPU %6.1f us/msg\n", phase,
                t.name.c_str(), r.msgs_per_s, r.p50_ms, r.p99_ms, r.broker_cpu_us);
}

}  // namespace

int main(int argc, char** argv) {
    int count = argc > 1 ? std::atoi(argv[1]) : 50000;
    const std::string shared_config = "max_inflight_messages 100\n";
    BrokerFixture bare(BrokerOptions{false, {}, shared_config});
    BrokerFixture chat(BrokerOptions{true, {}, shared_config});
    auto alice = chat.add_device("15550001", "d1");
    auto bob = chat.add_device("15550002", "d1");

    Target bare_t{"bare mosquitto", &bare, bare.port(), "", "", "pub", "", "", "sub", "m/15550002", "m/15550002", false};
    Target chat_t{"mosquitto+chat", &chat, chat.port(), "15550001", alice, "15550001/d1", "15550002", bob, "15550002/d1",
                  "m/15550002", "u/15550002/i", true};

    std::printf("direct messages, QoS1, %zu-byte payload, %d messages, window %d\n", payload_size, count, window);
    run(bare_t, count / 10, 0);  // warm-up
    run(chat_t, count / 10, 0);
    Result bare_sat = run(bare_t, count, 0);
    Result chat_sat = run(chat_t, count, 0);
    print("saturate", bare_t, bare_sat);
    print("saturate", chat_t, chat_sat);
    double half = bare_sat.msgs_per_s / 2;
    int paced = static_cast<int>(half * 5);  // five seconds at half of bare's saturation rate
    Result bare_half = run(bare_t, paced, half);
    Result chat_half = run(chat_t, paced, half);
    std::printf("paced at %.0f msg/s (half of bare saturation):\n", half);
    print("half-rate", bare_t, bare_half);
    print("half-rate", chat_t, chat_half);
    std::printf("throughput ratio chat/bare: %.2f (target >= 0.80)\n", chat_sat.msgs_per_s / bare_sat.msgs_per_s);
    std::printf("p99 ratio at half rate chat/bare: %.2f (target <= 1.5)\n", chat_half.p99_ms / bare_half.p99_ms);
    return 0;
}
