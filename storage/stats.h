// Counts for an operator's overview (chatctl stats).
#pragma once

#include "db.h"

#include <cstdint>

namespace chat::storage {

struct DatabaseCounts {
    int64_t users = 0;
    int64_t devices = 0;          // not revoked
    int64_t devices_online = 0;   // as last imported from the journal
    int64_t pending_entries = 0;  // stored entries no device of their owner acked yet
};

DatabaseCounts count_everything(Database& db);

}  // namespace chat::storage
