// Periodic passive WAL checkpoints on a background thread with a private connection.
#include "checkpointer.h"

#include "db.h"

#include <cstdio>

namespace chat::storage {

WalCheckpointer::WalCheckpointer(std::string db_path, std::chrono::milliseconds interval)
    : db_path_(std::move(db_path)), interval_(interval), thread_([this] { run(); }) {}

WalCheckpointer::~WalCheckpointer() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void WalCheckpointer::run() {
    try {
        Database db(db_path_);
        std::unique_lock lock(mu_);
        while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
            lock.unlock();
            // PASSIVE never waits for readers or writers; what it cannot copy now it copies next time.
            db.exec("PRAGMA wal_checkpoint(PASSIVE)");
            lock.lock();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "chat: WAL checkpointer stopped: %s\n", e.what());
    }
}

}  // namespace chat::storage
