// Prometheus counters of the sidecar over the shared registry (README "Metrics"); thread-safe.
#pragma once

#include "metrics/registry.h"

#include <array>
#include <cstdint>
#include <string>

namespace chat::sidecar {

enum class Counter : size_t {
    codes_sent,
    registrations,  // successful verifications (a new device)
    users_created,
    verification_failures,
    rate_limited,
    upload_bytes,
    media_stored,
    dedupe_hits,
    count_  // number of counters
};

class Metrics {
public:
    Metrics();
    void request(const std::string& route, int status);
    void add(Counter c, int64_t n = 1) { counters_[static_cast<size_t>(c)]->inc(static_cast<uint64_t>(n)); }
    int64_t get(Counter c) const { return static_cast<int64_t>(counters_[static_cast<size_t>(c)]->value()); }
    // Prometheus text exposition format 0.0.4.
    std::string render() const { return registry_.render(); }

private:
    metrics::Registry registry_;
    std::array<metrics::Counter*, static_cast<size_t>(Counter::count_)> counters_{};
};

}  // namespace chat::sidecar
