// Per-device and per-user limits of the authenticated routes; every refusal is ApiError 429 with
// Retry-After. Thread-safe (thread-safe limiters, one mutex for the uploads in flight).
#pragma once

#include "config.h"
#include "metrics.h"
#include "rate_limiter.h"

#include <map>
#include <mutex>
#include <string>

namespace chat::sidecar {

// Throws ApiError 429 {"error","retry_after"} with a Retry-After header of the wait in whole seconds.
[[noreturn]] void refuse_rate_limited(int64_t wait_ms, Metrics& metrics);
// Records a hit, or refuses with the wait.
void check_limit(RateLimiter& limiter, const std::string& key, int64_t now_ms, Metrics& metrics);

class Quotas {
public:
    // Holds one of a user's uploads in flight until destroyed.
    class Upload {
    public:
        Upload(Quotas& owner, std::string user) : owner_(&owner), user_(std::move(user)) {}
        ~Upload();
        Upload(Upload&& o) noexcept : owner_(o.owner_), user_(std::move(o.user_)) { o.owner_ = nullptr; }
        Upload(const Upload&) = delete;
        Upload& operator=(const Upload&) = delete;
        Upload& operator=(Upload&&) = delete;

    private:
        Quotas* owner_;
        std::string user_;
    };

    Quotas(const SidecarConfig& config, Metrics& metrics);

    // A key or presence look-up by this device (`client_id` = user/device).
    void lookup(const std::string& client_id, int64_t now_ms);
    void create_group(const std::string& user, int64_t now_ms);
    // A discovery of `numbers` numbers by this device: ApiError 400 past the per-request cap,
    // 429 past the daily numbers (counted when allowed).
    void discover(const std::string& client_id, int64_t numbers, int64_t now_ms);
    // Refuses when `bytes` more would pass the user's media bytes in the window.
    void check_media_bytes(const std::string& user, int64_t bytes, int64_t now_ms);
    // Counts bytes stored (after an upload whose size was not known up front).
    void add_media_bytes(const std::string& user, int64_t bytes, int64_t now_ms);
    // Counts `bytes` now, or refuses (a resumable upload reserves its whole length when created).
    void reserve_media_bytes(const std::string& user, int64_t bytes, int64_t now_ms);
    Upload begin_upload(const std::string& user);

private:
    Metrics& metrics_;
    RateLimiter lookups_, media_bytes_, groups_, discovered_;
    int64_t discover_per_request_;
    int max_uploads_;
    std::mutex mutex_;
    std::map<std::string, int> uploads_;  // users with uploads in flight
};

}  // namespace chat::sidecar
