// The metrics registry: the naming scheme is enforced, series render as Prometheus text that
// parses, and counters move from many threads without losing counts.
#include "metrics/registry.h"
#include "support/prometheus.h"

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

using chat::metrics::Registry;
using chat::testing::parse_prometheus;
using chat::testing::sample;

TEST_CASE("names outside the scheme are refused") {
    Registry r;
    CHECK_THROWS_AS(r.counter("broker_connects_total", "no chat_ prefix"), std::invalid_argument);
    CHECK_THROWS_AS(r.counter("chat_broker_connects", "a counter without _total"), std::invalid_argument);
    CHECK_THROWS_AS(r.gauge("chat_broker_devices_total", "a gauge with _total"), std::invalid_argument);
    CHECK_THROWS_AS(r.gauge("chat_Broker_devices", "upper case"), std::invalid_argument);
    CHECK_THROWS_AS(r.counter("chat_x_total", "bad label", {{"Reason", "x"}}), std::invalid_argument);
    r.counter("chat_x_total", "one type");
    CHECK_THROWS_AS(r.gauge("chat_x_total", "then another"), std::invalid_argument);
    CHECK_THROWS_AS(r.histogram("chat_x_seconds", "bounds out of order", {2, 1}), std::invalid_argument);
}

TEST_CASE("the same name and labels give the same series; renders parse with labels escaped") {
    Registry r;
    auto& block = r.counter("chat_test_refusals_total", "Refusals.", {{"reason", "block"}});
    auto& acl = r.counter("chat_test_refusals_total", "Refusals.", {{"reason", "acl"}});
    CHECK(&block == &r.counter("chat_test_refusals_total", "Refusals.", {{"reason", "block"}}));
    CHECK(&block != &acl);
    block.inc(3);
    r.gauge("chat_test_devices", "Devices.").set(-2);
    r.counter("chat_test_odd_total", "Odd label.", {{"route", "a\"b\\c\nd"}}).inc();
    auto& h = r.histogram("chat_test_duration_seconds", "Durations.", {0.1, 1});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(7);
    chat::metrics::Counter owned;
    owned.inc(9);
    r.expose("chat_test_owned_total", "Owned elsewhere.", owned);
    int64_t computed = 0;
    auto& collected = r.gauge("chat_test_collected", "Set before each render.");
    r.collect([&] { collected.set(++computed); });

    auto samples = parse_prometheus(r.render());
    CHECK(sample(samples, R"(chat_test_refusals_total{reason="block"})") == 3);
    CHECK(sample(samples, R"(chat_test_refusals_total{reason="acl"})") == 0);
    CHECK(samples.contains(R"(chat_test_refusals_total{reason="acl"})"));
    CHECK(sample(samples, "chat_test_devices") == -2);
    CHECK(samples.contains(R"(chat_test_odd_total{route="a\"b\\c\nd"})"));
    CHECK(sample(samples, R"(chat_test_duration_seconds_bucket{le="0.1"})") == 1);
    CHECK(sample(samples, R"(chat_test_duration_seconds_bucket{le="1"})") == 2);
    CHECK(sample(samples, R"(chat_test_duration_seconds_bucket{le="+Inf"})") == 3);
    CHECK(sample(samples, "chat_test_duration_seconds_count") == 3);
    CHECK(sample(samples, "chat_test_duration_seconds_sum") == Approx(7.55));
    CHECK(sample(samples, "chat_test_owned_total") == 9);
    CHECK(sample(samples, "chat_test_collected") == 1);
    CHECK(sample(parse_prometheus(r.render()), "chat_test_collected") == 2);
    CHECK_THROWS_AS(r.expose("chat_test_owned_total", "Twice.", owned), std::invalid_argument);
}

TEST_CASE("counters bumped from many threads lose nothing") {
    Registry r;
    auto& c = r.counter("chat_test_events_total", "Events.");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) c.inc();
        });
    }
    std::string rendered;
    for (int i = 0; i < 20; ++i) rendered = r.render();  // rendering while they count
    for (auto& t : threads) t.join();
    CHECK(sample(parse_prometheus(r.render()), "chat_test_events_total") == 400000);
}
