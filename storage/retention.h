// Deleting what must not be kept: expired disappearing messages, entries past the
// expiry period, and entries every device has acked once the retention period is over.
// Deletes run in small batches so the broker thread never waits long for the write lock.
#pragma once

#include "db.h"

#include <cstdint>

namespace chat::storage {

class Retention {
public:
    explicit Retention(Database& db);
    // Entries (and group messages) whose own expiry time is <= now. Returns rows deleted.
    int64_t drop_expired(int64_t now_ms, int limit);
    // Entries older than `cutoff_ms`, delivered or not.
    int64_t drop_older_than(int64_t cutoff_ms, int limit);
    // Entries older than `cutoff_ms` that every live device of their user has acked.
    int64_t drop_acked_older_than(int64_t cutoff_ms, int limit);

private:
    Database& db_;
    Statement expired_, expired_outbox_, old_, old_outbox_, acked_;
};

}  // namespace chat::storage
