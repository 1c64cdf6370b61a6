// ConnectionLimiter: a count per address, erased at zero so memory follows the open connections.
#include "connection_limiter.h"

namespace chat::sidecar {

ConnectionLimiter::Slot::~Slot() {
    if (owner_) owner_->release(address_);
}

std::optional<ConnectionLimiter::Slot> ConnectionLimiter::acquire(const std::string& address) {
    std::lock_guard lock(mutex_);
    int& n = open_[address];
    if (max_ > 0 && n >= max_) return std::nullopt;  // n > 0 here, so the entry stays meaningful
    ++n;
    return Slot(*this, address);
}

int ConnectionLimiter::open(const std::string& address) const {
    std::lock_guard lock(mutex_);
    auto it = open_.find(address);
    return it == open_.end() ? 0 : it->second;
}

void ConnectionLimiter::release(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = open_.find(address);
    if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

}  // namespace chat::sidecar
