// Sliding-window rate limiting: keeps the amounts inside the window per key, with their total.
#include "rate_limiter.h"

namespace chat::sidecar {

int64_t RateLimiter::hit(const std::string& key, int64_t now_ms, int64_t amount) {
    if (limit_.limit <= 0) return 0;
    std::lock_guard lock(mutex_);
    sweep(now_ms);
    auto& w = windows_[key];
    if (int64_t wait = wait_locked(w, now_ms, amount)) return wait;
    w.entries.emplace_back(now_ms, amount);
    w.total += amount;
    return 0;
}

int64_t RateLimiter::retry_after(const std::string& key, int64_t now_ms, int64_t amount) {
    if (limit_.limit <= 0) return 0;
    std::lock_guard lock(mutex_);
    auto it = windows_.find(key);
    if (it == windows_.end()) return 0;
    return wait_locked(it->second, now_ms, amount);
}

void RateLimiter::add(const std::string& key, int64_t now_ms, int64_t amount) {
    if (limit_.limit <= 0 || amount <= 0) return;
    std::lock_guard lock(mutex_);
    sweep(now_ms);
    auto& w = windows_[key];
    w.entries.emplace_back(now_ms, amount);
    w.total += amount;
}

int64_t RateLimiter::wait_locked(Window& w, int64_t now_ms, int64_t amount) const {
    while (!w.entries.empty() && w.entries.front().first <= now_ms - limit_.window_ms) {
        w.total -= w.entries.front().second;
        w.entries.pop_front();
    }
    if (w.entries.empty() || w.total + amount <= limit_.limit) return 0;
    // The wait ends when enough of the oldest entries have left the window for `amount` to fit.
    int64_t left = w.total;
    for (const auto& [time, used] : w.entries) {
        left -= used;
        if (left + amount <= limit_.limit) return time + limit_.window_ms - now_ms;
    }
    return w.entries.back().first + limit_.window_ms - now_ms;
}

// Forgets keys whose newest entry left the window, so memory follows the active keys only.
void RateLimiter::sweep(int64_t now_ms) {
    if (now_ms - last_sweep_ms_ < limit_.window_ms) return;
    last_sweep_ms_ = now_ms;
    for (auto it = windows_.begin(); it != windows_.end();) {
        if (it->second.entries.empty() || it->second.entries.back().first <= now_ms - limit_.window_ms) {
            it = windows_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace chat::sidecar
