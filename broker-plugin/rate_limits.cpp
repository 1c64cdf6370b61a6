// RateLimiter: refill on use, forget idle buckets so the map stays bounded.
#include "rate_limits.h"

#include <algorithm>

namespace chat::broker {

double RateLimiter::refilled(const Bucket& b, int64_t now_ms) const {
    double elapsed_s = static_cast<double>(std::max<int64_t>(0, now_ms - b.at_ms)) / 1000.0;
    return std::min(limit_.burst, b.tokens + elapsed_s * limit_.per_second);
}

bool RateLimiter::allow(std::string_view key, int64_t now_ms) {
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_keys_) forget_full(now_ms);
        // Still full of busy keys: a flood of new ones (e.g. made-up client ids) waits for space.
        if (buckets_.size() >= max_keys_) return false;
        it = buckets_.emplace(std::string(key), Bucket{limit_.burst, now_ms}).first;
    }
    Bucket& b = it->second;
    b.tokens = refilled(b, now_ms);
    b.at_ms = now_ms;
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
}

void RateLimiter::forget_full(int64_t now_ms) {
    std::erase_if(buckets_, [&](const auto& kv) { return refilled(kv.second, now_ms) >= limit_.burst; });
}

}  // namespace chat::broker
