// WalCheckpointer: copies the WAL back into the database file on its own thread and
// connection, so that a latency-critical writer (the broker thread) never pays for it. Does
// nothing for a PostgreSQL location.
#pragma once

#include "common/periodic.h"
#include "db.h"
#include "metrics/registry.h"

#include <chrono>
#include <memory>
#include <string>

namespace chat::storage {

class WalCheckpointer {
public:
    WalCheckpointer(const std::string& db_location, std::chrono::milliseconds interval);

    // Readable from any thread (the metrics endpoint).
    const metrics::Histogram& duration_seconds() const { return duration_seconds_; }
    const metrics::Counter& failures() const { return failures_; }

private:
    metrics::Histogram duration_seconds_{metrics::duration_buckets()};
    metrics::Counter failures_;
    std::unique_ptr<Database> db_;  // used only on the periodic thread after construction
    std::unique_ptr<Periodic> periodic_;  // stopped (destroyed) before db_
};

}  // namespace chat::storage
