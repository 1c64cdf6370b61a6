// Periodic passive WAL checkpoints with a private connection (SQLite only).
#include "checkpointer.h"

#include "common/log.h"

namespace chat::storage {

WalCheckpointer::WalCheckpointer(const std::string& db_location, std::chrono::milliseconds interval) {
    if (backend_of(db_location) != Backend::sqlite) return;  // PostgreSQL checkpoints by itself
    db_ = std::make_unique<Database>(db_location);
    periodic_ = std::make_unique<Periodic>(interval, [this] {
        try {
            auto started = std::chrono::steady_clock::now();
            // PASSIVE never waits for readers or writers; what it cannot copy now it copies next time.
            db_->exec("PRAGMA wal_checkpoint(PASSIVE)");
            duration_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        } catch (const std::exception& e) {
            failures_.inc();
            log::log(log::Level::error, "checkpoint_failed", {{"error", e.what()}});
        }
    });
}

}  // namespace chat::storage
