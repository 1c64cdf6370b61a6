// chat-bench-receipt: how long after a recipient's cumulative ack the sender's device receives the
// delivered receipt (a stored entry), through the real broker + plugin + bridge on loopback;
// median and p99 over N acks.
#include "bridge/nodelay.h"
#include "result.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

using namespace chat::testing;
using Clock = std::chrono::steady_clock;

namespace {

const std::string alice = "15550001", bob = "15550002";

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

// The next inbox entry of `kind` on `client`, skipping others (notices); throws after 10 s.
nlohmann::json next_of_kind(MqttClient& client, const std::string& kind) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
        auto m = client.next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
        if (!m) break;
        auto j = nlohmann::json::parse(m->payload);
        if (j.value("kind", "msg") == kind) return j;
    }
    throw std::runtime_error("no " + kind + " arrived within 10 s");
}

}  // namespace

// Usage: chat-bench-receipt [acks]
int main(int argc, char** argv) {
    try {
        const int runs = argc > 1 ? std::stoi(argv[1]) : 100;
        BrokerFixture broker(BrokerOptions{true, {}, "", false});
        auto ta = broker.add_device(alice, "d1");
        auto tb = broker.add_device(bob, "d1");
        BridgeProcess bridge(broker);
        MqttClient a(broker.port(), alice + "/d1"), b(broker.port(), bob + "/d1");
        if (a.connect(alice, ta) != 0 || b.connect(bob, tb) != 0) throw std::runtime_error("cannot log in");
        // Paho leaves Nagle on: bob's ack would wait for the broker's delayed ACK of his PUBACK
        // (up to 40 ms), which measures the client's socket, not the server. Phones should not
        // do that either.
        chat::bridge::set_nodelay_to_port(broker.port());
        a.subscribe("u/" + alice + "/i");
        b.subscribe("u/" + bob + "/i");
        // The ack comes at a random moment after the delivery, as a phone's would, so that the
        // runs sample every phase of whatever the server does periodically.
        std::mt19937 rng(7);
        std::uniform_int_distribution<int> pause_us(0, 30000);
        std::vector<double> ms;
        for (int i = -3; i < runs; ++i) {  // three untimed warm-ups
            if (a.publish("m/" + bob, "twenty bytes of text") != 0) throw std::runtime_error("send refused");
            auto entry = next_of_kind(b, "msg");
            std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
            auto acked = Clock::now();
            if (b.publish("k/" + bob, nlohmann::json{{"seq", entry["seq"]}}.dump()) != 0) {
                throw std::runtime_error("ack refused");
            }
            auto receipt = next_of_kind(a, "receipt");

            double took = std::chrono::duration<double, std::milli>(Clock::now() - acked).count();
            if (receipt["delivered"] != nlohmann::json::array({entry["id"]})) {
                throw std::runtime_error("the receipt names " + receipt["delivered"].dump() + ", not " +
                                         entry["id"].dump());
            }
            if (i >= 0) ms.push_back(took);
        }
        double p50 = percentile(ms, 0.5), p99 = percentile(ms, 0.99);
        std::printf("ack -> delivered receipt at the sender, %d acks on loopback: median %.2f ms, p99 %.2f ms, "
                    "max %.2f ms\n",
                    runs, p50, p99, *std::max_element(ms.begin(), ms.end()));
        chat::bench::print_result("receipt.ack_to_delivered_p50", p50, "ms", "<=10");
        chat::bench::print_result("receipt.ack_to_delivered_p99", p99, "ms");
    } catch (const std::exception& e) {
        std::cerr << "chat-bench-receipt: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
