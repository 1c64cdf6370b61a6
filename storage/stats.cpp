// The queries behind chatctl stats.
#include "stats.h"

namespace chat::storage {

// Two plain reads (each its own snapshot): a transaction here would take the write lock.
DatabaseCounts count_everything(Database& db) {
    DatabaseCounts c;
    Statement users(db, "SELECT COUNT(*), COALESCE(SUM(last_seq - delivered_seq), 0) FROM users");
    users.step();
    c.users = users.int_at(0);
    c.pending_entries = users.int_at(1);
    Statement devices(db, "SELECT COUNT(*), COALESCE(SUM(online), 0) FROM devices WHERE revoked = 0");
    devices.step();
    c.devices = devices.int_at(0);
    c.devices_online = devices.int_at(1);
    return c;
}

}  // namespace chat::storage
