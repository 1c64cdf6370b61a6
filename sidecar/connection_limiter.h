// Counts open connections per peer address and refuses past a cap; thread-safe (one mutex).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace chat::sidecar {

class ConnectionLimiter {
public:
    // Holds one of an address's connections; releases it when destroyed.
    class Slot {
    public:
        Slot(ConnectionLimiter& owner, std::string address) : owner_(&owner), address_(std::move(address)) {}
        ~Slot();
        Slot(Slot&& o) noexcept : owner_(o.owner_), address_(std::move(o.address_)) { o.owner_ = nullptr; }
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
        Slot& operator=(Slot&&) = delete;

    private:
        ConnectionLimiter* owner_;
        std::string address_;
    };

    explicit ConnectionLimiter(int max_per_address) : max_(max_per_address) {}  // 0 = no cap
    // A slot, or nullopt when `address` already holds max_per_address connections.
    std::optional<Slot> acquire(const std::string& address);
    int open(const std::string& address) const;

private:
    void release(const std::string& address);
    int max_;
    mutable std::mutex mutex_;
    std::map<std::string, int> open_;  // only addresses with open connections
};

}  // namespace chat::sidecar
