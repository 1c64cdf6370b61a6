// Importer: copies journal records into SQLite on its own thread and connection, many
// publishes per transaction, and deletes journal segments once everything in them is in.
// push(), imported(), conflicts() and wait_all_imported() may be called from any thread; the
// rest is internal.
#pragma once

#include "db.h"
#include "journal.h"
#include "metrics/registry.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace chat::storage {

class RecordApplier;

// A device going online or offline as the importer queues it: the fields of its journal record
// that matter, a fraction of a JournalRecord's size (one is queued per CONNECT and DISCONNECT,
// and a burst of connections waits here for the import).
struct PresenceChange {
    JournalRecord::Op op = JournalRecord::Op::online;  // online or offline
    std::string user;
    std::string device;
    int64_t at_ms = 0;  // offline: the user's last seen
};

// Imports the records in `dir` that SQLite has not seen (past the mark the importer keeps in
// the same transactions as the data), deletes the segments, and returns the number the next
// segment must have (past every segment the mark or the folder ever named). On cluster node
// `node` (empty: a single node), entries of users homed elsewhere by now are handed off.
uint64_t recover_journal(Database& db, const std::filesystem::path& dir, const std::string& node = {});

class Importer {
public:
    // How often the importer wakes by itself to import what is queued (see importer.cpp).
    static constexpr std::chrono::milliseconds default_interval{25};

    // `node`: this cluster node's id (empty: a single node), as for recover_journal().
    Importer(const std::string& db_path, std::filesystem::path journal_dir, uint64_t first_segment,
             std::string node = {}, std::chrono::milliseconds interval = default_interval);
    // Imports what is queued, then deletes the segments (they stay if SQLite refused them).
    ~Importer();
    Importer(const Importer&) = delete;
    Importer& operator=(const Importer&) = delete;

    // Queues one publish's records, already written to the journal, ending at `end`. A cursor
    // record (an ack) is imported at once, with whatever is queued before it: the bridge waits
    // for it in SQLite before it makes the sender's delivered receipts.
    void push(std::vector<JournalRecord> records, JournalPosition end);
    // Queues one presence change, already written to the journal, ending at `end`; counts as one
    // publish (imported(), wait_all_imported()). Changes in a row share one queue slot.
    void push_presence(PresenceChange change, JournalPosition end);
    // How many pushed publishes are committed to SQLite.
    uint64_t imported() const { return imported_.load(std::memory_order_acquire); }
    // Blocks until every publish pushed so far is in SQLite, for at most `limit`; false when
    // the import is stuck (SQLite keeps failing).
    bool wait_all_imported(std::chrono::milliseconds limit = std::chrono::seconds(10));
    // Inbox entries committed imports could not store because another entry already holds their
    // seq or cid (each one is logged with its user, id and seq); 0 unless something is wrong.
    uint64_t conflicts() const { return conflicts_.load(std::memory_order_acquire); }
    // Bytes of pushed records not yet committed to SQLite: the memory the import is behind by.
    int64_t backlog_bytes() const { return backlog_bytes_.load(std::memory_order_acquire); }

    // What the import does, for the process's metrics; readable from any thread.
    struct Stats {
        metrics::Gauge lag_publishes;          // pushed, not yet committed to SQLite
        metrics::Histogram batch_publishes{metrics::size_buckets()};
        metrics::Histogram batch_seconds{metrics::duration_buckets()};
        metrics::Counter records;              // journal records committed
        metrics::Counter failures;             // failed transactions and connections (each retried)
        metrics::Counter segments_deleted;
        std::atomic<bool> failing{false};      // the last attempt failed; cleared by a commit
        std::atomic<int64_t> oldest_pending_ms{0};  // steady-clock ms of the oldest uncommitted push; 0: none
    };
    const Stats& stats() const { return stats_; }
    // How long the oldest publish not in SQLite yet has waited, in ms (0: nothing waits).
    int64_t lag_ms() const;

private:
    struct Pushed {
        std::vector<JournalRecord> records;
        JournalPosition end;
        int64_t bytes = 0;  // what the records hold, roughly
        std::vector<PresenceChange> presence;  // instead of records
        uint64_t pushes = 1;                   // push calls it holds (presence changes share one)
        int64_t pushed_ms = 0;                 // steady clock, for the lag
    };
    // Queues work under the lock and frees what the importer handed back, on this thread.
    // `ack`: the batch holds a cursor move, which wakes the import at once (delivered receipts).
    void enqueue(const std::function<void()>& add, int64_t bytes, bool ack);
    void run();
    // Imports the queue until stopped; throws when the connection must be opened again.
    void serve(RecordApplier& applier, Database& db);
    // Waits a little before retry `attempt`; false when stopping and the retries are used up.
    bool pause_unless_stopping(int attempt);
    void delete_segments_before(uint64_t segment);

    std::string db_path_;
    std::filesystem::path dir_;
    std::string node_;
    uint64_t oldest_segment_;
    std::chrono::milliseconds interval_;
    std::mutex mu_;
    std::condition_variable wake_, done_;
    std::deque<Pushed> queue_;
    std::vector<std::vector<Pushed>> imported_work_;  // done; freed by the next push()
    uint64_t pushed_ = 0;
    bool stopping_ = false;
    bool hurry_ = false;  // someone waits for the import: do not sleep out the interval
    std::atomic<uint64_t> imported_{0};
    std::atomic<uint64_t> conflicts_{0};
    std::atomic<int64_t> backlog_bytes_{0};
    Stats stats_;
    // Taken off the queue, not yet committed: kept across a failure and reopening SQLite (the
    // import thread's only).
    std::vector<Pushed> in_hand_;
    std::thread thread_;
};

}  // namespace chat::storage
