// WalCheckpointer: copies the WAL back into the database file on its own thread and
// connection, so that a latency-critical writer (the broker thread) never pays for it. Does
// nothing for a PostgreSQL location.
#pragma once

#include "common/periodic.h"
#include "db.h"

#include <chrono>
#include <memory>
#include <string>

namespace chat::storage {

class WalCheckpointer {
public:
    WalCheckpointer(const std::string& db_location, std::chrono::milliseconds interval);

private:
    std::unique_ptr<Database> db_;  // used only on the periodic thread after construction
    std::unique_ptr<Periodic> periodic_;  // stopped (destroyed) before db_
};

}  // namespace chat::storage
