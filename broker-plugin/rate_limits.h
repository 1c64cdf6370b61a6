// Token buckets keyed by user, client id or address, with a bounded number of keys.
// Used only from mosquitto's main thread.
#pragma once

#include "config.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace chat::broker {

class RateLimiter {
public:
    explicit RateLimiter(RateLimit limit, size_t max_keys = 100'000) : limit_(limit), max_keys_(max_keys) {}

    // Takes one token from `key`'s bucket; false when it is empty.
    bool allow(std::string_view key, int64_t now_ms);
    size_t keys() const { return buckets_.size(); }
    // Drops buckets that have refilled completely: they are the same as no bucket at all.
    void forget_full(int64_t now_ms);

private:
    struct Bucket {
        double tokens = 0;
        int64_t at_ms = 0;
    };
    double refilled(const Bucket& b, int64_t now_ms) const;

    // Looked up by string_view: no allocation per publish for a key already known.
    struct KeyHash {
        using is_transparent = void;
        size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
    };

    RateLimit limit_;
    size_t max_keys_;
    std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>> buckets_;
};

}  // namespace chat::broker
