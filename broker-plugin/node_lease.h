// NodeLease: a cluster node's lease in the shared database, renewed by its own thread, and the
// fence the broker thread checks before it takes a publish or a CONNECT.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace chat::storage {
class Database;
}

namespace chat::broker {

class NodeLease {
public:
    // Takes the lease once before returning (throws storage::Error when the database refuses),
    // then renews it every lease_ms / 5 on its own thread and connection.
    NodeLease(std::string db_location, std::string node, std::string address, int64_t lease_ms,
              std::function<int64_t()> clock);
    // Stops renewing and ends the lease at once: a clean stop moves the users without waiting.
    ~NodeLease();
    NodeLease(const NodeLease&) = delete;
    NodeLease& operator=(const NodeLease&) = delete;

    // Whether the node may still allocate seqs at `now_ms`: its lease runs for another fifth
    // of its length at least, the margin against clocks apart and a renewal on its way.
    bool holds(int64_t now_ms) const { return now_ms < fence_at_ms_.load(std::memory_order_acquire); }
    // Renewals that found the lease lapsed (other nodes may have moved this node's users
    // meanwhile); the broker re-reads its users' homes before it takes anything again.
    uint64_t lapses() const { return lapses_.load(std::memory_order_acquire); }

private:
    // One renewal on `db` (a connection of the calling thread); moves the fence.
    void renew(storage::Database& db);
    void run();

    std::string db_location_;
    std::string node_;
    std::string address_;
    int64_t lease_ms_;
    std::function<int64_t()> clock_;
    std::atomic<int64_t> fence_at_ms_{0};
    std::atomic<uint64_t> lapses_{0};
    std::mutex mu_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace chat::broker
