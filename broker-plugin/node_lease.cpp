// NodeLease: renewals on a thread of their own, so a slow database never stalls the broker
// thread; the broker thread only reads two atomics.
#include "node_lease.h"

#include "common/log.h"
#include "storage/cluster.h"
#include "storage/db.h"

#include <algorithm>
#include <chrono>
#include <pthread.h>

namespace chat::broker {

NodeLease::NodeLease(std::string db_location, std::string node, std::string address, int64_t lease_ms,
                     std::function<int64_t()> clock)
    : db_location_(std::move(db_location)), node_(std::move(node)), address_(std::move(address)),
      lease_ms_(lease_ms), clock_(std::move(clock)) {
    {
        storage::Database db(db_location_);
        renew(db);
    }
    lapses_.store(0, std::memory_order_release);  // a start after a crash is no lapse to handle
    thread_ = std::thread([this] { run(); });
}

NodeLease::~NodeLease() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
    try {
        storage::Database db(db_location_);
        storage::Cluster(db).release_lease(node_, clock_());
        log::log(log::Level::notice, "lease_released", {{"node", node_}});
    } catch (const std::exception& e) {
        // The lease then runs out by itself, and the users move a lease later.
        log::log(log::Level::warning, "lease_not_released", {{"node", node_}, {"error", e.what()}});
    }
}

void NodeLease::renew(storage::Database& db) {
    int64_t started = clock_();
    int64_t before = storage::Cluster(db).renew_lease(node_, address_, started, lease_ms_);
    // Measured from before the renewal was sent: the database's view can only be later.
    fence_at_ms_.store(started + lease_ms_ - lease_ms_ / 5, std::memory_order_release);
    if (before != 0 && before <= started) {
        lapses_.fetch_add(1, std::memory_order_acq_rel);
        log::log(log::Level::warning, "lease_lapsed", {{"node", node_}, {"lapsed_ms", started - before}});
    }
}

void NodeLease::run() {
    pthread_setname_np(pthread_self(), "chat-lease");
    auto interval = std::chrono::milliseconds(std::max<int64_t>(1, lease_ms_ / 5));
    // No exception may leave this thread. A failed renewal is retried at the next interval;
    // meanwhile the fence closes by itself when the lease runs out.
    for (;;) {
        try {
            storage::Database db(db_location_);
            for (;;) {
                {
                    std::unique_lock lock(mu_);
                    if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
                }
                renew(db);
            }
        } catch (const std::exception& e) {
            log::log(log::Level::error, "lease_renewal_failed", {{"node", node_}, {"error", e.what()}});
        } catch (...) {
            log::log(log::Level::error, "lease_renewal_failed", {{"node", node_}});
        }
        std::unique_lock lock(mu_);
        if (wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
    }
}

}  // namespace chat::broker
