// Periodic clean-up: disappearing messages past their expiry, anything past the expiry
// period, acked entries past the retention period. Small batches, each its own statement.
#pragma once

#include "storage/db.h"
#include "storage/retention.h"

#include <cstdint>

namespace chat::bridge {

class Expiry {
public:
    Expiry(storage::Database& db, int64_t expiry_ms, int64_t retention_ms, int batch = 500);
    // Deletes what is due at `now_ms`, at most `max_batches` batches per kind; returns rows deleted.
    int64_t sweep(int64_t now_ms, int max_batches = 20);

private:
    storage::Retention retention_;
    int64_t expiry_ms_;
    int64_t retention_ms_;
    int batch_;
};

}  // namespace chat::bridge
