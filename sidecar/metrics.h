// Prometheus counters of the sidecar; thread-safe (atomics plus one mutex for the per-route map).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

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
    void request(const std::string& route, int status);
    void add(Counter c, int64_t n = 1) { counters_[static_cast<size_t>(c)].fetch_add(n, std::memory_order_relaxed); }
    int64_t get(Counter c) const { return counters_[static_cast<size_t>(c)].load(std::memory_order_relaxed); }
    // Prometheus text exposition format 0.0.4.
    std::string render() const;

private:
    std::array<std::atomic<int64_t>, static_cast<size_t>(Counter::count_)> counters_{};
    mutable std::mutex mutex_;
    std::map<std::pair<std::string, int>, int64_t> requests_;
};

}  // namespace chat::sidecar
