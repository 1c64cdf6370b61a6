// Sliding-window rate limiting: keeps the hit times inside the window per key.
#include "rate_limiter.h"

namespace chat::sidecar {

int64_t RateLimiter::hit(const std::string& key, int64_t now_ms) {
    if (limit_.limit <= 0) return 0;
    std::lock_guard lock(mutex_);
    sweep(now_ms);
    auto& times = hits_[key];
    if (int64_t wait = wait_locked(times, now_ms)) return wait;
    times.push_back(now_ms);
    return 0;
}

int64_t RateLimiter::retry_after(const std::string& key, int64_t now_ms) {
    if (limit_.limit <= 0) return 0;
    std::lock_guard lock(mutex_);
    auto it = hits_.find(key);
    return it == hits_.end() ? 0 : wait_locked(it->second, now_ms);
}

int64_t RateLimiter::wait_locked(std::deque<int64_t>& times, int64_t now_ms) const {
    while (!times.empty() && times.front() <= now_ms - limit_.window_ms) times.pop_front();
    if (times.size() >= static_cast<size_t>(limit_.limit)) return times.front() + limit_.window_ms - now_ms;
    return 0;
}

// Forgets keys whose newest hit left the window, so memory follows the active keys only.
void RateLimiter::sweep(int64_t now_ms) {
    if (now_ms - last_sweep_ms_ < limit_.window_ms) return;
    last_sweep_ms_ = now_ms;
    for (auto it = hits_.begin(); it != hits_.end();) {
        if (it->second.empty() || it->second.back() <= now_ms - limit_.window_ms) {
            it = hits_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace chat::sidecar
