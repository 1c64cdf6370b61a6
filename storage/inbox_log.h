// InboxLog: the broker's single writer of inboxes. Seqs come from memory, a publish is durable
// once its records are in the journal (one copy into a mapped file, before the PUBACK), and
// the Importer copies them into SQLite moments later. A lookup of an entry still on its way
// waits for the import.
// Owned and used by the broker thread only; while it runs nothing else may append to inboxes.
#pragma once

#include "common/entry.h"
#include "db.h"
#include "importer.h"
#include "inbox.h"
#include "journal.h"
#include "outbox.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chat::storage {

struct AckResult {
    int64_t previous_delivered = 0;  // user's delivered high-water mark before this ack
    int64_t delivered = 0;           // and after it
};

class InboxLog {
public:
    // `db` is the broker thread's connection, for lookups. Imports what an earlier run left in
    // the journal (kill -9) before anything else reads a seq. The importer opens `db_location`
    // (SQLite path or PostgreSQL URL); the journal lives in `journal_dir`. On cluster node `node`
    // (empty: a single node), what the journal holds for users homed elsewhere is handed off.
    InboxLog(Database& db, const std::string& db_location, const std::filesystem::path& journal_dir,
             const std::string& node = {});

    // The records of one publish: one journal batch, so all of them become durable or none do.
    class Batch {
    public:
        explicit Batch(InboxLog& log) : log_(log) { records_.reserve(2); }  // a direct message: 2
        ~Batch();
        Batch(const Batch&) = delete;
        Batch& operator=(const Batch&) = delete;

        // Adds `e` to `owner`'s inbox with the owner's next seq (written into e.seq); false,
        // adding nothing, when there is no such user. An entry whose id this batch already
        // adds to `owner` is not added again (e.seq gets the first one's seq).
        bool add(const std::string& owner, Entry& e);
        // A group message for the bridge to fan out.
        void add_outbox(const Entry& e);
        // Clears the body of `owner`'s entry `ref` if `from` sent it (a delete).
        void add_redaction(const std::string& owner, const std::string& ref, const std::string& from);
        // Writes the journal; throws storage::Error when that fails (then nothing was added).
        void commit();

    private:
        friend class InboxLog;  // ack() journals a cursor move it computed itself
        InboxLog& log_;
        std::vector<JournalRecord> records_;
        std::vector<std::pair<std::string, int64_t>> previous_seqs_;  // to undo unless committed
        bool committed_ = false;
    };

    // Forgets what memory holds about `user`, who is homed on another node now: if the user comes
    // back, the counters are read again from the database, where the other node left them.
    void forget(const std::string& user) { counters_.erase(user); }
    // The highest seq handed out to `user`, 0 for an unknown user.
    int64_t last_seq(const std::string& user);
    // The highest seq any of the user's devices acked.
    int64_t delivered_seq(const std::string& user);
    // How many of the user's entries no device acked yet.
    int64_t pending(const std::string& user);
    // A device acked everything up to `seq`: moves its cursor and the user's delivered mark
    // forward (never back, never past last_seq), durable like a batch. Unknown users: no-op.
    AckResult ack(const std::string& user, const std::string& device, int64_t seq);
    // A device connected, or disconnected at `now_ms`: journaled like a batch, so the online
    // flag and the user's last seen reach SQLite moments later, off the broker thread.
    void device_online(const std::string& user, const std::string& device);
    void device_offline(const std::string& user, const std::string& device, int64_t now_ms);
    bool has_entry(const std::string& owner, const std::string& id);
    std::optional<Entry> find_by_id(const std::string& owner, const std::string& id);
    std::optional<Entry> find_by_cid(const std::string& owner, const std::string& cid, const std::string& conversation);
    std::optional<Entry> find_outbox(const std::string& id);
    // Gives back this process's mapping of journal pages already written (call now and then).
    void release_journal_pages() { writer_->release_written_pages(); }
    // Blocks until every committed batch is in SQLite (tests; clean shutdown does it anyway).
    void wait_imported();
    // Bytes of committed batches still waiting for the import, held in memory until then.
    int64_t import_backlog_bytes() const { return importer_->backlog_bytes(); }
    // For the process's metrics and health check (their members are readable from any thread).
    const Importer& importer() const { return *importer_; }
    const JournalWriter& journal() const { return *writer_; }

private:
    struct Counters {
        int64_t last_seq = 0;       // highest seq handed out
        int64_t delivered_seq = 0;  // highest seq any device acked
    };
    // A user's counters, loaded from SQLite on first use; nullptr for an unknown user.
    Counters* counters(const std::string& user);
    void remember(const std::vector<JournalRecord>& records);
    void journal_presence(PresenceChange change);
    // Makes SQLite answer for `key` (see below): waits for the import if it may be in flight.
    void settle(uint64_t key);

    std::filesystem::path dir_;
    Inbox inbox_;
    GroupOutbox outbox_;
    std::unordered_map<std::string, Counters> counters_;  // never evicted
    // For each slot (a hash of an (owner, id), (owner, cid) or outbox id key), the last batch
    // that wrote such a key; a slot newer than the import may be in flight. A collision only
    // costs a needless wait, and nothing needs pruning: one store per key per publish.
    std::vector<uint64_t> written_by_batch_;
    uint64_t batches_ = 0;
    std::vector<JournalRecord> presence_record_;  // reused by journal_presence()
    // Declared last: destroyed first, so the importer drains while everything above is alive.
    std::unique_ptr<JournalWriter> writer_;
    std::unique_ptr<Importer> importer_;
};

}  // namespace chat::storage
