// StorePool: lazily opened per-thread SQLite connections, reused across requests.
#include "store_pool.h"

namespace chat::sidecar {

StorePool::StorePool(std::string path) : path_(std::move(path)) {
    idle_.push_back(std::make_unique<Store>(path_));
}

StorePool::Lease StorePool::lease() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            auto store = std::move(idle_.back());
            idle_.pop_back();
            return Lease(*this, std::move(store));
        }
    }
    // Opened outside the lock: opening a connection touches the file.
    return Lease(*this, std::make_unique<Store>(path_));
}

void StorePool::give_back(std::unique_ptr<Store> store) {
    if (!store) return;
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(store));
}

}  // namespace chat::sidecar
