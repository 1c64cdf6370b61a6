// Quotas: the limiters of look-ups, media bytes and group creation, and the uploads in flight.
#include "quotas.h"

#include "api_error.h"

namespace chat::sidecar {
namespace {
// How long a client refused for too many uploads in flight waits: an upload takes seconds.
constexpr int64_t upload_retry_ms = 5000;
}  // namespace

void refuse_rate_limited(int64_t wait_ms, Metrics& metrics) {
    metrics.add(Counter::rate_limited);
    int64_t seconds = (wait_ms + 999) / 1000;
    throw ApiError(429, "too many requests", {{"retry_after", seconds}}, {{"Retry-After", std::to_string(seconds)}});
}

void check_limit(RateLimiter& limiter, const std::string& key, int64_t now_ms, Metrics& metrics) {
    if (int64_t wait_ms = limiter.hit(key, now_ms)) refuse_rate_limited(wait_ms, metrics);
}

Quotas::Upload::~Upload() {
    if (!owner_) return;
    std::lock_guard lock(owner_->mutex_);
    auto it = owner_->uploads_.find(user_);
    if (it != owner_->uploads_.end() && --it->second <= 0) owner_->uploads_.erase(it);
}

Quotas::Quotas(const SidecarConfig& config, Metrics& metrics)
    : metrics_(metrics),
      lookups_(config.lookups_per_device),
      media_bytes_(config.media_bytes_per_user),
      groups_(config.groups_per_user),
      discovered_(config.discover_per_device),
      discover_per_request_(config.discover_per_request),
      max_uploads_(config.uploads_per_user) {}

void Quotas::lookup(const std::string& client_id, int64_t now_ms) { check_limit(lookups_, client_id, now_ms, metrics_); }

void Quotas::create_group(const std::string& user, int64_t now_ms) { check_limit(groups_, user, now_ms, metrics_); }

void Quotas::discover(const std::string& client_id, int64_t numbers, int64_t now_ms) {
    if (numbers > discover_per_request_) {
        throw ApiError(400, "at most " + std::to_string(discover_per_request_) + " numbers per request");
    }
    if (int64_t wait_ms = discovered_.hit(client_id, now_ms, numbers)) refuse_rate_limited(wait_ms, metrics_);
}

void Quotas::check_media_bytes(const std::string& user, int64_t bytes, int64_t now_ms) {
    if (int64_t wait_ms = media_bytes_.retry_after(user, now_ms, bytes)) refuse_rate_limited(wait_ms, metrics_);
}

void Quotas::add_media_bytes(const std::string& user, int64_t bytes, int64_t now_ms) {
    media_bytes_.add(user, now_ms, bytes);
}

void Quotas::reserve_media_bytes(const std::string& user, int64_t bytes, int64_t now_ms) {
    if (int64_t wait_ms = media_bytes_.hit(user, now_ms, bytes)) refuse_rate_limited(wait_ms, metrics_);
}

Quotas::Upload Quotas::begin_upload(const std::string& user) {
    std::lock_guard lock(mutex_);
    int& n = uploads_[user];
    if (max_uploads_ > 0 && n >= max_uploads_) refuse_rate_limited(upload_retry_ms, metrics_);
    ++n;
    return Upload(*this, user);
}

}  // namespace chat::sidecar
