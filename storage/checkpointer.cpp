// Periodic passive WAL checkpoints with a private connection (SQLite only).
#include "checkpointer.h"

#include <cstdio>

namespace chat::storage {

WalCheckpointer::WalCheckpointer(const std::string& db_location, std::chrono::milliseconds interval) {
    if (backend_of(db_location) != Backend::sqlite) return;  // PostgreSQL checkpoints by itself
    db_ = std::make_unique<Database>(db_location);
    periodic_ = std::make_unique<Periodic>(interval, [this] {
        try {
            // PASSIVE never waits for readers or writers; what it cannot copy now it copies next time.
            db_->exec("PRAGMA wal_checkpoint(PASSIVE)");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "chat: WAL checkpoint failed: %s\n", e.what());
        }
    });
}

}  // namespace chat::storage
