// Per-user inboxes: append with a gap-free per-user seq, replay, per-device cursors.
#pragma once

#include "common/entry.h"
#include "db.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

// One entry for Inbox::insert_imported_many: its owner, the entry and its sending device
// (pointers into records the caller keeps alive until the call returns).
struct ImportRow {
    const std::string* user;
    const Entry* entry;
    const std::string* device;
};

class Inbox {
public:
    // Rows per multi-row INSERT of insert_imported_many.
    static constexpr size_t import_chunk = 64;

    explicit Inbox(Database& db);

    // Appends `e` to `user`'s inbox with the next seq (written into e.seq).
    // Returns false, storing nothing, when the user does not exist.
    // Call inside a Transaction so the seq bump and the row commit together.
    bool append(const std::string& user, Entry& e);
    // Stores `e` with the seq it already has (the broker allocated it; see InboxLog) unless
    // the user has that entry already; raise_last_seq() then records the highest such seq.
    // Throws ConstraintError when another entry of the user holds that seq or cid.
    // `device` is the sending device of a `sent` entry (the journal record's), else empty.
    void insert_imported(const std::string& user, const Entry& e, const std::string& device);
    // insert_imported for many rows, `import_chunk` per statement (on PostgreSQL one round trip
    // per chunk rather than per row); returns the indexes of the rows refused as clashes.
    std::vector<size_t> insert_imported_many(const std::vector<ImportRow>& rows);
    void raise_last_seq(const std::string& user, int64_t seq);
    std::vector<Entry> entries_after(const std::string& user, int64_t after, int limit);
    std::optional<Entry> find_by_id(const std::string& user, const std::string& id);
    // The user's entry with this client message id in one conversation: a recipient or a gid.
    std::optional<Entry> find_by_cid(const std::string& user, const std::string& cid, const std::string& conversation);
    bool has_entry(const std::string& user, const std::string& id);
    // The highest seq any of the user's devices acked (0 for an unknown user).
    int64_t delivered_seq(const std::string& user);
    // The highest seq handed out to `user` that SQLite knows of; nullopt for an unknown user.
    std::optional<int64_t> last_seq(const std::string& user);
    // Moves a device's cursor and the user's delivered mark forward to `seq` (never back).
    void advance_cursor(const std::string& user, const std::string& device, int64_t seq);

private:
    Database& db_;
    Statement bump_seq_, insert_, import_, import_many_, raise_seq_, after_, by_id_, by_cid_, exists_, last_seq_;
    Statement set_cursor_, read_delivered_, raise_delivered_;
};

}  // namespace chat::storage
