// Prepared statements over the inbox table and the seq/cursor counters.
#include "inbox.h"

namespace chat::storage {
namespace {

constexpr const char* entry_columns = "id, seq, kind, from_user, to_user, gid, ts, body, ref, cid, expires_ms, device";

Entry entry_from(const Statement& s) {
    Entry e;
    e.id = s.text_at(0);
    e.seq = s.int_at(1);
    e.kind = s.text_at(2);
    e.from = s.text_at(3);
    e.to = s.text_at(4);
    e.gid = s.text_at(5);
    e.ts = s.int_at(6);
    e.body = s.blob_at(7);
    e.ref = s.text_at(8);
    e.cid = s.text_at(9);
    e.expires_ms = s.int_at(10);
    e.device = s.text_at(11);
    return e;
}

// The caller runs the statement while `user`, `e` and `device` are alive: SQLite need not copy them.
Statement& bind_row(Statement& s, const std::string& user, const Entry& e, const std::string& device) {
    constexpr Bytes held = Bytes::borrowed;
    s.bind(1, user, held).bind(2, e.seq).bind(3, e.id, held).bind(4, e.kind, held).bind(5, e.from, held);
    s.bind_or_null(6, e.to, held).bind_or_null(7, e.gid, held).bind(8, e.ts).bind_blob(9, e.body, held);
    s.bind_or_null(10, e.ref, held).bind_or_null(11, e.cid, held).bind_or_null(12, e.expires_ms);
    return s.bind_or_null(13, device, held);
}

std::string select_entries(const char* where) {
    return std::string("SELECT ") + entry_columns + " FROM inbox WHERE " + where;
}

}  // namespace

Inbox::Inbox(Database& db)
    : db_(db),
      bump_seq_(db, "UPDATE users SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq"),
      insert_(db,
              "INSERT INTO inbox(user_id, seq, id, kind, from_user, to_user, gid, ts, body, ref, cid, expires_ms, device) "
              "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
      // Any clash is skipped here and told apart below: a failing statement would abort the
      // whole import transaction on PostgreSQL.
      import_(db,
              "INSERT INTO inbox(user_id, seq, id, kind, from_user, to_user, gid, ts, body, ref, cid, expires_ms, device) "
              "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"),
      raise_seq_(db, "UPDATE users SET last_seq = CASE WHEN last_seq < ?1 THEN ?1 ELSE last_seq END WHERE id = ?2"),
      after_(db, select_entries("user_id = ? AND seq > ? ORDER BY seq LIMIT ?")),
      by_id_(db, select_entries("user_id = ? AND id = ?")),
      by_cid_(db, select_entries("user_id = ? AND cid = ? AND COALESCE(gid, to_user) = ?")),
      exists_(db, "SELECT 1 FROM inbox WHERE user_id = ? AND id = ?"),
      last_seq_(db, "SELECT last_seq FROM users WHERE id = ?"),
      set_cursor_(db, "UPDATE devices SET cursor = CASE WHEN cursor < ?1 THEN ?1 ELSE cursor END "
                       "WHERE user_id = ?2 AND device_id = ?3"),
      read_delivered_(db, "SELECT delivered_seq FROM users WHERE id = ?"),
      raise_delivered_(db, "UPDATE users SET delivered_seq = "
                             "CASE WHEN delivered_seq < ?1 THEN ?1 ELSE delivered_seq END WHERE id = ?2") {}

bool Inbox::append(const std::string& user, Entry& e) {
    {
        ResetOnExit r(bump_seq_);
        if (!bump_seq_.bind(1, user).step()) return false;
        e.seq = bump_seq_.int_at(0);
        while (bump_seq_.step()) {
        }
    }
    bind_row(insert_, user, e, e.device).run();
    return true;
}

void Inbox::insert_imported(const std::string& user, const Entry& e, const std::string& device) {
    bind_row(import_, user, e, device).run();
    // Only the replay of an entry the user has (same id) is skipped quietly: a clash on
    // (user, seq) or (user, cid) would be a row lost silently, so it is refused.
    if (db_.changes() == 0 && !has_entry(user, e.id)) {
        throw ConstraintError("entry " + e.id + " clashes with another entry of " + user + " (seq " +
                              std::to_string(e.seq) + " or cid '" + e.cid + "')");
    }
}

void Inbox::raise_last_seq(const std::string& user, int64_t seq) { raise_seq_.bind(1, seq).bind(2, user).run(); }

std::vector<Entry> Inbox::entries_after(const std::string& user, int64_t after, int limit) {
    ResetOnExit r(after_);
    after_.bind(1, user).bind(2, after).bind(3, int64_t{limit});
    std::vector<Entry> out;
    while (after_.step()) out.push_back(entry_from(after_));
    return out;
}

std::optional<Entry> Inbox::find_by_id(const std::string& user, const std::string& id) {
    ResetOnExit r(by_id_);
    if (!by_id_.bind(1, user).bind(2, id).step()) return std::nullopt;
    return entry_from(by_id_);
}

std::optional<Entry> Inbox::find_by_cid(const std::string& user, const std::string& cid,
                                        const std::string& conversation) {
    ResetOnExit r(by_cid_);
    if (!by_cid_.bind(1, user).bind(2, cid).bind(3, conversation).step()) return std::nullopt;
    return entry_from(by_cid_);
}

bool Inbox::has_entry(const std::string& user, const std::string& id) {
    ResetOnExit r(exists_);
    return exists_.bind(1, user).bind(2, id).step();
}

std::optional<int64_t> Inbox::last_seq(const std::string& user) {
    ResetOnExit r(last_seq_);
    if (!last_seq_.bind(1, user).step()) return std::nullopt;
    return last_seq_.int_at(0);
}

int64_t Inbox::delivered_seq(const std::string& user) {
    ResetOnExit r(read_delivered_);
    return read_delivered_.bind(1, user).step() ? read_delivered_.int_at(0) : 0;
}

void Inbox::advance_cursor(const std::string& user, const std::string& device, int64_t seq) {
    set_cursor_.bind(1, seq).bind(2, user).bind(3, device).run();
    raise_delivered_.bind(1, seq).bind(2, user).run();
}

}  // namespace chat::storage
