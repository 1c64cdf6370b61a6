// Offline sync: replays a user's inbox after a seq to one device topic, a page at a time.
// Many devices syncing at once are served round-robin, one page each, and every page waits
// for the broker's acks before the next (bounded memory, live traffic keeps its share).
// Used from one thread only (the sync thread).
#pragma once

#include "publisher.h"

#include "storage/db.h"
#include "storage/inbox.h"

#include <deque>
#include <string>

namespace chat::bridge {

// A device asked for everything after `after`; `upto` is the user's last seq when it asked
// (the plugin adds it), so the replay starts once SQLite has that imported.
struct SyncRequest {
    std::string user;
    std::string device;
    int64_t after = 0;
    int64_t upto = 0;
};

class SyncReplay {
public:
    SyncReplay(storage::Database& db, Publisher& out, int page = 100);
    // A newer request from the same device replaces its unfinished one.
    void request(SyncRequest r);
    // What step() did: nothing to do, a job waited for the import, or a page went out (the
    // job's last one: finished).
    enum class Step { idle, waited, page, finished };
    // Sends one page of the next job.
    Step step();
    bool idle() const { return jobs_.empty(); }

private:
    struct Job : SyncRequest {
        int waits = 0;  // import waits so far
    };
    Publisher& out_;
    int page_;
    storage::Inbox inbox_;
    std::deque<Job> jobs_;
};

}  // namespace chat::bridge
