// WalCheckpointer: copies the WAL back into the database file on its own thread and
// connection, so that a latency-critical writer (the broker thread) never pays for it.
#pragma once

#include "common/periodic.h"
#include "db.h"

#include <chrono>
#include <memory>
#include <string>

namespace chat::storage {

class WalCheckpointer {
public:
    WalCheckpointer(const std::string& db_path, std::chrono::milliseconds interval);

private:
    std::unique_ptr<Database> db_;  // used only on the periodic thread after construction
    Periodic periodic_;
};

}  // namespace chat::storage
