// Prepared statements over the inbox table and the seq/cursor counters.
#include "inbox.h"

#include <set>
#include <utility>

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
// `at`: the parameter index before this row's first (rows of a multi-row INSERT follow each other).
Statement& bind_row(Statement& s, const std::string& user, const Entry& e, const std::string& device, int at = 0) {
    constexpr Bytes held = Bytes::borrowed;
    s.bind(at + 1, user, held).bind(at + 2, e.seq).bind(at + 3, e.id, held).bind(at + 4, e.kind, held);
    s.bind(at + 5, e.from, held).bind_or_null(at + 6, e.to, held).bind_or_null(at + 7, e.gid, held);
    s.bind(at + 8, e.ts).bind_blob(at + 9, e.body, held).bind_or_null(at + 10, e.ref, held);
    s.bind_or_null(at + 11, e.cid, held).bind_or_null(at + 12, e.expires_ms);
    return s.bind_or_null(at + 13, device, held);
}

constexpr int row_params = 13;

std::string import_many_sql() {
    std::string sql =
        "INSERT INTO inbox(user_id, seq, id, kind, from_user, to_user, gid, ts, body, ref, cid, expires_ms, device) "
        "VALUES";
    for (size_t i = 0; i < Inbox::import_chunk; ++i) sql += i ? ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" : " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    return sql + " ON CONFLICT DO NOTHING RETURNING user_id, id";
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
      import_many_(db, import_many_sql()),
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

std::vector<size_t> Inbox::insert_imported_many(const std::vector<ImportRow>& rows) {
    std::vector<size_t> clashes;
    size_t i = 0;
    for (; i + import_chunk <= rows.size(); i += import_chunk) {
        std::set<std::pair<std::string, std::string>> stored;
        {
            ResetOnExit r(import_many_);
            for (size_t k = 0; k < import_chunk; ++k) {
                const ImportRow& row = rows[i + k];
                bind_row(import_many_, *row.user, *row.entry, *row.device, static_cast<int>(k) * row_params);
            }
            while (import_many_.step()) stored.emplace(import_many_.text_at(0), import_many_.text_at(1));
        }
        for (size_t k = 0; k < import_chunk; ++k) {
            const ImportRow& row = rows[i + k];
            // Not stored: a replay of an entry the user has (quiet), or a clash.
            if (!stored.count({*row.user, row.entry->id}) && !has_entry(*row.user, row.entry->id)) {
                clashes.push_back(i + k);
            }
        }
    }
    for (; i < rows.size(); ++i) {
        try {
            insert_imported(*rows[i].user, *rows[i].entry, *rows[i].device);
        } catch (const ConstraintError&) {
            clashes.push_back(i);
        }
    }
    return clashes;
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
