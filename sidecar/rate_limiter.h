// Sliding-window rate limiter keyed by phone or client address; thread-safe (one mutex).
#pragma once

#include "config.h"

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace chat::sidecar {

class RateLimiter {
public:
    explicit RateLimiter(RateLimit limit) : limit_(limit) {}

    // Records a hit for `key` and returns 0, or returns the milliseconds until the
    // key may try again (and records nothing: a refused request does not extend the wait).
    int64_t hit(const std::string& key, int64_t now_ms);
    // The wait hit() would answer, without recording anything.
    int64_t retry_after(const std::string& key, int64_t now_ms);

private:
    void sweep(int64_t now_ms);
    int64_t wait_locked(std::deque<int64_t>& times, int64_t now_ms) const;
    RateLimit limit_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::deque<int64_t>> hits_;
    int64_t last_sweep_ms_ = 0;
};

}  // namespace chat::sidecar
