// Importer: the journal's consumer. Records are applied in write order, so a redaction always
// finds the entry it refers to, and an entry already in SQLite (a replay) is left as it is.
#include "importer.h"

#include "accounts.h"
#include "cluster.h"
#include "common/log.h"
#include "inbox.h"
#include "outbox.h"
#include "policy.h"

#include <algorithm>
#include <chrono>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace chat::storage {
namespace {

namespace fs = std::filesystem;

// Publishes per transaction: large enough to amortise the commit, small enough that a writer
// elsewhere (chatctl, the sidecar) never waits long for the lock.
constexpr size_t max_publishes_per_commit = 2048;
// The importer wakes by itself every interval (Importer::default_interval, 25 ms), or sooner
// once this many publishes wait, an ack is queued, or someone waits for the import: waking it
// for every publish cost the broker thread a futex wake-up and a context switch per message,
// and each commit costs ~0.2 ms whatever its size (measured: 17 us per row in transactions of
// 20 rows, 9.5 at 100, 8 at 2000), so fewer, larger ones. An ack is worth its own wake-up: the
// sender's delivered receipt waits for it in SQLite (up to the whole interval, 25 ms, before),
// and a device acks once per batch it received, not per message.
constexpr size_t wake_at_queue_size = 1024;

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

bool holds_ack(const std::vector<JournalRecord>& records) {
    return std::any_of(records.begin(), records.end(),
                       [](const JournalRecord& r) { return r.op == JournalRecord::Op::cursor; });
}

// A segment that cannot be deleted stays and costs only disk: the mark in SQLite says it was
// imported, so the next start skips its records. Never throws (the importer thread calls it).
void remove_segment(const fs::path& segment) {
    std::error_code ec;
    fs::remove(segment, ec);
    if (ec) log::log(log::Level::warning, "journal_segment_not_deleted", {{"segment", segment.string()}, {"error", ec.message()}});
}

bool before_mark(const JournalPosition& at, const JournalPosition& mark) {
    return at.segment < mark.segment || (at.segment == mark.segment && at.offset <= mark.offset);
}

}  // namespace

// Applies records inside the caller's transaction; finish() then raises each user's last_seq
// once per transaction rather than once per entry. On a cluster node (`node` not empty), the
// inbox entries and acks of users homed on another node by now (they moved while this node's
// lease had lapsed) are not imported: the entries are handed to the new home, the acks (of this
// node's seqs) dropped.
class RecordApplier {
public:
    RecordApplier(Database& db, std::string node)
        : batch_inserts_(db.backend() == Backend::postgres || !node.empty()),
          node_(std::move(node)),
          inbox_(db), outbox_(db), policy_(db), accounts_(db),
          // "only" and "offset" are reserved words in PostgreSQL: quoted (both dialects accept it).
          // Each cluster node has its own journal, so its own mark (nodes share the database).
          mark_(db, node_.empty() ? R"(SELECT segment, "offset" FROM journal_mark)"
                                  : R"(SELECT segment, "offset" FROM node_journal_marks WHERE node_id = ?)"),
          set_mark_(db, node_.empty()
                            ? R"(INSERT INTO journal_mark("only", segment, "offset") VALUES(1, ?, ?) )"
                              R"(ON CONFLICT("only") DO UPDATE SET segment = excluded.segment, "offset" = excluded."offset")"
                            : R"(INSERT INTO node_journal_marks(segment, "offset", node_id) VALUES(?, ?, ?) )"
                              R"(ON CONFLICT(node_id) DO UPDATE SET segment = excluded.segment, "offset" = excluded."offset")") {
        if (!node_.empty()) cluster_ = std::make_unique<Cluster>(db);
    }

    // Starts a transaction's work: on a cluster node, no user of this node moves until the commit.
    void begin() {
        if (cluster_) cluster_->hold_lease(node_);
    }

    JournalPosition mark() {
        ResetOnExit r(mark_);
        if (!node_.empty()) mark_.bind(1, node_);
        if (!mark_.step()) return JournalPosition{0, 0};
        return JournalPosition{static_cast<uint64_t>(mark_.int_at(0)), static_cast<uint64_t>(mark_.int_at(1))};
    }

    // `r` stays alive until finish() (or discard()): inbox rows may wait there for a multi-row INSERT.
    void apply(const JournalRecord& r) {
        if (r.op != JournalRecord::Op::inbox) flush();  // in journal order: a redaction finds its entry
        switch (r.op) {
            case JournalRecord::Op::inbox: {
                if (batch_inserts_) {
                    pending_.push_back(&r);
                } else {
                    insert(r);
                    raise_last_seq(r);
                }
                break;
            }
            case JournalRecord::Op::outbox: outbox_.enqueue(r.entry); break;
            case JournalRecord::Op::redact: policy_.redact(r.owner, r.entry.ref, r.entry.from); break;
            case JournalRecord::Op::cursor:
                if (!cluster_ || cluster_->homed_elsewhere({r.owner}, node_).empty()) {
                    inbox_.advance_cursor(r.owner, r.device, r.entry.seq);
                }
                break;
            case JournalRecord::Op::online:
            case JournalRecord::Op::offline: apply(PresenceChange{r.op, r.owner, r.device, r.entry.ts}); break;
        }
    }

    void apply(const PresenceChange& c) {
        flush();
        accounts_.set_online(c.user, c.device, c.op == JournalRecord::Op::online);
        if (c.op == JournalRecord::Op::offline) accounts_.set_last_seen(c.user, c.at_ms);
    }

    // Ends a transaction's work: per-user last_seq, and the mark saying how far it got.
    void finish(JournalPosition end) {
        flush();
        for (const auto& [user, seq] : last_seqs_) inbox_.raise_last_seq(user, seq);
        last_seqs_.clear();
        set_mark_.bind(1, static_cast<int64_t>(end.segment)).bind(2, static_cast<int64_t>(end.offset));
        if (!node_.empty()) set_mark_.bind(3, node_);
        set_mark_.run();
    }
    // Forgets the work of a transaction that was rolled back.
    void discard() {
        pending_.clear();
        last_seqs_.clear();
        conflicts_ = 0;
    }
    // Conflicts met since the last call (call after the commit).
    uint64_t take_conflicts() { return std::exchange(conflicts_, 0); }

private:
    void raise_last_seq(const JournalRecord& r) {
        int64_t& top = last_seqs_[r.owner];
        top = std::max(top, r.entry.seq);
    }

    // Hands the pending entries of users homed elsewhere to their new home; keeps the others.
    void hand_off_moved() {
        std::vector<std::string> owners;
        for (const JournalRecord* r : pending_) owners.push_back(r->owner);
        std::sort(owners.begin(), owners.end());
        owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
        auto moved = cluster_->homed_elsewhere(owners, node_);
        if (moved.empty()) return;
        std::sort(moved.begin(), moved.end());
        std::erase_if(pending_, [&](const JournalRecord* r) {
            if (!std::binary_search(moved.begin(), moved.end(), r->owner)) return false;
            cluster_->hand_off(r->owner, r->entry);
            log::log(log::Level::notice, "entry_handed_off", {{"entry", r->entry.id}, {"user", r->owner}});
            return true;
        });
    }

    // PostgreSQL and cluster nodes: the inbox rows applied since the last other record, many per
    // statement, as one round trip per Inbox::import_chunk rows instead of one per row. A single
    // SQLite node, in-process, keeps its row-by-row inserts.
    void flush() {
        if (pending_.empty()) return;
        if (cluster_) hand_off_moved();
        std::vector<ImportRow> rows;
        rows.reserve(pending_.size());
        for (const JournalRecord* r : pending_) {
            rows.push_back(ImportRow{&r->owner, &r->entry, &r->device});
            raise_last_seq(*r);
        }
        for (size_t i : inbox_.insert_imported_many(rows)) {
            const JournalRecord& r = *pending_[i];
            log::log(log::Level::error, "import_conflict",
                     {{"entry", r.entry.id}, {"user", r.owner}, {"seq", r.entry.seq}, {"cid", r.entry.cid},
                      {"error", "another entry holds its seq or cid"}});
            ++conflicts_;
        }
        pending_.clear();
    }

    void insert(const JournalRecord& r) {
        try {
            inbox_.insert_imported(r.owner, r.entry, r.device);
        } catch (const ConstraintError& e) {
            // Not a replay of the same (id, user), which is skipped quietly: another entry holds
            // this seq or cid. Failing the import instead would stall every inbox behind this
            // record for good (it fails the same way on each retry), so it is logged and counted.
            log::log(log::Level::error, "import_conflict",
                     {{"entry", r.entry.id}, {"user", r.owner}, {"seq", r.entry.seq}, {"cid", r.entry.cid}, {"error", e.what()}});
            ++conflicts_;
        }
    }

    bool batch_inserts_;
    std::string node_;
    std::unique_ptr<Cluster> cluster_;  // on a cluster node only
    std::vector<const JournalRecord*> pending_;
    Inbox inbox_;
    GroupOutbox outbox_;
    Policy policy_;
    Accounts accounts_;
    std::unordered_map<std::string, int64_t> last_seqs_;
    uint64_t conflicts_ = 0;
    Statement mark_, set_mark_;
};

uint64_t recover_journal(Database& db, const fs::path& dir, const std::string& node) {
    RecordApplier applier(db, node);
    JournalPosition mark = applier.mark();
    uint64_t next = mark.segment + 1;
    auto segments = journal_segments(dir);
    for (const auto& segment : segments) {
        uint64_t number = journal_segment_number(segment);
        next = std::max(next, number + 1);
        JournalPosition last = mark;
        Transaction tx(db);
        applier.begin();
        auto records = read_journal_segment(segment);  // alive until finish(): rows may wait in the applier
        for (const auto& r : records) {
            JournalPosition at{number, r.end};
            if (before_mark(at, mark)) continue;  // imported before the crash
            applier.apply(r.record);
            last = at;
        }
        applier.finish(last);
        tx.commit();
        applier.take_conflicts();  // logged one by one already
        mark = last;
    }
    for (const auto& segment : segments) remove_segment(segment);
    return next;
}

Importer::Importer(const std::string& db_path, fs::path journal_dir, uint64_t first_segment, std::string node,
                   std::chrono::milliseconds interval)
    : db_path_(db_path), dir_(std::move(journal_dir)), node_(std::move(node)), oldest_segment_(first_segment),
      interval_(interval) {
    thread_ = std::thread([this] { run(); });
}

Importer::~Importer() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
    if (imported() != pushed_) {
        log::log(log::Level::warning, "import_left_for_next_start", {{"publishes", pushed_ - imported()}});
        return;
    }
    try {
        for (const auto& segment : journal_segments(dir_)) remove_segment(segment);
    } catch (const std::exception& e) {
        // Left segments are harmless: the next start finds them imported already (the mark).
        log::log(log::Level::warning, "journal_not_listed", {{"folder", dir_.string()}, {"error", e.what()}});
    }
}

void Importer::push(std::vector<JournalRecord> records, JournalPosition end) {
    int64_t bytes = 0;
    for (const auto& r : records) bytes += static_cast<int64_t>(sizeof r + r.entry.body.size() + r.owner.size());
    bool ack = holds_ack(records);
    enqueue([&] { queue_.push_back(Pushed{std::move(records), end, bytes, {}, 1}); }, bytes, ack);
}

void Importer::push_presence(PresenceChange change, JournalPosition end) {
    auto bytes = static_cast<int64_t>(sizeof change);
    enqueue(
        [&] {
            if (!queue_.empty() && queue_.back().records.empty() && queue_.back().presence.size() < max_publishes_per_commit) {
                Pushed& last = queue_.back();  // not taken by the importer yet: it is still queued
                last.presence.push_back(std::move(change));
                last.end = end;
                last.bytes += bytes;
                ++last.pushes;
                return;
            }
            Pushed p{{}, end, bytes, {}, 1};
            p.presence.push_back(std::move(change));
            queue_.push_back(std::move(p));
        },
        bytes, false);
}

void Importer::enqueue(const std::function<void()>& add, int64_t bytes, bool ack) {
    backlog_bytes_.fetch_add(bytes, std::memory_order_release);
    stats_.lag_publishes.add(1);
    int64_t now = steady_ms();
    bool wake;
    std::vector<std::vector<Pushed>> imported_work;
    {
        std::lock_guard lock(mu_);
        add();
        if (queue_.back().pushed_ms == 0) queue_.back().pushed_ms = now;  // presence shares a slot
        if (stats_.oldest_pending_ms.load(std::memory_order_relaxed) == 0) stats_.oldest_pending_ms = now;
        ++pushed_;
        hurry_ = hurry_ || ack;
        wake = queue_.size() == wake_at_queue_size || ack;
        imported_work.swap(imported_work_);
    }
    if (wake) wake_.notify_one();
}  // imported_work is freed here, by the thread that allocated it

bool Importer::wait_all_imported(std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    hurry_ = true;
    wake_.notify_one();
    return done_.wait_for(lock, limit, [this] { return imported() == pushed_; });
}

void Importer::run() {
    // Linux nice values are per thread: yield the CPU to the broker thread, whose latency
    // clients see; this thread catches up in the broker's idle moments (2-core machines).
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
    pthread_setname_np(pthread_self(), "chat-importer");  // for top -H and perf
    // No exception may leave this thread: std::terminate would take the broker down. Whatever
    // fails (opening SQLite, a commit, memory) is logged and retried with the connection opened
    // again; the records are safe in the journal meanwhile, and the ones in hand are kept.
    for (int failures = 1;; ++failures) {
        try {
            Database db(db_path_);
            RecordApplier applier(db, node_);
            serve(applier, db);
            return;  // stopping
        } catch (const std::exception& e) {
            stats_.failures.inc();
            stats_.failing = true;
            log::log(log::Level::error, "importer_failed", {{"failure", failures}, {"error", e.what()}});
        } catch (...) {
            stats_.failures.inc();
            stats_.failing = true;
            log::log(log::Level::error, "importer_failed", {{"failure", failures}});
        }
        if (!pause_unless_stopping(failures)) return;  // the next start imports what is left
    }
}

bool Importer::pause_unless_stopping(int attempt) {
    std::unique_lock lock(mu_);
    if (stopping_ && attempt >= 3) return false;
    auto backoff = std::chrono::milliseconds(100 * std::min(attempt, 10));  // up to 1 s
    wake_.wait_for(lock, backoff, [this] { return stopping_; });
    return true;
}

void Importer::serve(RecordApplier& applier, Database& db) {
    for (;;) {
        if (in_hand_.empty()) {
            std::unique_lock lock(mu_);
            wake_.wait_for(lock, interval_,
                           [this] { return stopping_ || hurry_ || queue_.size() >= wake_at_queue_size; });
            hurry_ = false;
            if (queue_.empty()) {
                if (stopping_) return;
                continue;
            }
            in_hand_.reserve(std::min(queue_.size(), max_publishes_per_commit));
            while (!queue_.empty() && in_hand_.size() < max_publishes_per_commit) {
                in_hand_.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        auto started = std::chrono::steady_clock::now();
        uint64_t records = 0;
        for (int attempt = 1;; ++attempt) {
            try {
                records = 0;
                Transaction tx(db);
                applier.begin();
                for (const auto& p : in_hand_) {
                    for (const auto& r : p.records) applier.apply(r);
                    for (const auto& c : p.presence) applier.apply(c);
                    records += p.records.size() + p.presence.size();
                }
                applier.finish(in_hand_.back().end);
                tx.commit();
                conflicts_.fetch_add(applier.take_conflicts(), std::memory_order_release);
                break;
            } catch (const std::exception& e) {
                // The records are safe in the journal; keep trying (a full disk, a long lock).
                log::log(log::Level::error, "import_failed", {{"attempt", attempt}, {"error", e.what()}});
                stats_.failures.inc();
                stats_.failing = true;
                applier.discard();
                if (!pause_unless_stopping(attempt)) return;
            }
        }
        uint64_t last_segment = in_hand_.back().end.segment;
        int64_t committed_bytes = 0;
        uint64_t committed_pushes = 0;
        for (const auto& p : in_hand_) {
            committed_bytes += p.bytes;
            committed_pushes += p.pushes;
        }
        backlog_bytes_.fetch_sub(committed_bytes, std::memory_order_release);
        stats_.batch_seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        stats_.batch_publishes.observe(static_cast<double>(committed_pushes));
        stats_.records.inc(records);
        stats_.lag_publishes.add(-static_cast<int64_t>(committed_pushes));
        stats_.failing = false;
        {
            std::lock_guard lock(mu_);
            imported_.fetch_add(committed_pushes, std::memory_order_release);
            stats_.oldest_pending_ms = queue_.empty() ? 0 : queue_.front().pushed_ms;
            // Handed back so the pushing thread frees its own allocations: frees from this
            // thread contended for the broker thread's malloc arena.
            imported_work_.push_back(std::move(in_hand_));
            in_hand_.clear();
        }
        done_.notify_all();
        delete_segments_before(last_segment);
    }
}

void Importer::delete_segments_before(uint64_t segment) {
    for (; oldest_segment_ < segment; ++oldest_segment_) {
        remove_segment(journal_segment_path(dir_, oldest_segment_));
        stats_.segments_deleted.inc();
    }
}

int64_t Importer::lag_ms() const {
    int64_t oldest = stats_.oldest_pending_ms.load(std::memory_order_relaxed);
    return oldest == 0 ? 0 : std::max<int64_t>(0, steady_ms() - oldest);
}

}  // namespace chat::storage
