// Sliding-window rate limiter keyed by phone, address, device or user; thread-safe (one mutex).
// Counts requests (amount 1) or quantities such as bytes.
#pragma once

#include "config.h"

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace chat::sidecar {

class RateLimiter {
public:
    explicit RateLimiter(RateLimit limit) : limit_(limit) {}

    // Records `amount` for `key` and returns 0, or returns the milliseconds until `amount` fits
    // (and records nothing: a refused request does not extend the wait). An amount above the
    // limit fits only in an empty window.
    int64_t hit(const std::string& key, int64_t now_ms, int64_t amount = 1);
    // The wait hit() would answer, without recording anything.
    int64_t retry_after(const std::string& key, int64_t now_ms, int64_t amount = 1);
    // Records `amount` whether or not it fits (what was used anyway, e.g. bytes already received).
    void add(const std::string& key, int64_t now_ms, int64_t amount);

private:
    struct Window {
        std::deque<std::pair<int64_t, int64_t>> entries;  // (time, amount), oldest first
        int64_t total = 0;
    };
    void sweep(int64_t now_ms);
    int64_t wait_locked(Window& w, int64_t now_ms, int64_t amount) const;
    RateLimit limit_;
    std::mutex mutex_;
    std::unordered_map<std::string, Window> windows_;
    int64_t last_sweep_ms_ = 0;
};

}  // namespace chat::sidecar
