// Prepared statements over group_outbox.
#include "outbox.h"

namespace chat::storage {
namespace {

constexpr const char* columns = "id, gid, from_user, ts, kind, body, ref, expires_ms, to_user";

Entry entry_from(const Statement& s) {
    Entry e;
    e.id = s.text_at(0);
    e.gid = s.text_at(1);
    e.from = s.text_at(2);
    e.ts = s.int_at(3);
    e.kind = s.text_at(4);
    e.body = s.blob_at(5);
    e.ref = s.text_at(6);
    e.expires_ms = s.int_at(7);
    e.to = s.text_at(8);
    return e;
}

}  // namespace

GroupOutbox::GroupOutbox(Database& db)
    : insert_(db, "INSERT INTO group_outbox(id, gid, from_user, ts, kind, body, ref, expires_ms, to_user) "
                  "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING"),
      find_(db, std::string("SELECT ") + columns + " FROM group_outbox WHERE id = ?"),
      is_done_(db, "SELECT done FROM group_outbox WHERE id = ?"),
      pending_(db, std::string("SELECT ") + columns + " FROM group_outbox WHERE done = 0 ORDER BY ts, id LIMIT ?"),
      done_(db, "UPDATE group_outbox SET done = 1 WHERE id = ?"),
      pending_count_(db, "SELECT COUNT(*) FROM group_outbox WHERE done = 0") {}

void GroupOutbox::enqueue(const Entry& e) {
    insert_.bind(1, e.id).bind(2, e.gid).bind(3, e.from).bind(4, e.ts).bind(5, e.kind).bind_blob(6, e.body);
    insert_.bind_or_null(7, e.ref).bind_or_null(8, e.expires_ms).bind_or_null(9, e.to).run();
}

std::optional<Entry> GroupOutbox::find(const std::string& id) {
    ResetOnExit r(find_);
    if (!find_.bind(1, id).step()) return std::nullopt;
    return entry_from(find_);
}

std::optional<bool> GroupOutbox::done(const std::string& id) {
    ResetOnExit r(is_done_);
    if (!is_done_.bind(1, id).step()) return std::nullopt;
    return is_done_.int_at(0) != 0;
}

std::vector<Entry> GroupOutbox::pending(int limit) {
    ResetOnExit r(pending_);
    pending_.bind(1, int64_t{limit});
    std::vector<Entry> out;
    while (pending_.step()) out.push_back(entry_from(pending_));
    return out;
}

int64_t GroupOutbox::pending_count() {
    ResetOnExit r(pending_count_);
    pending_count_.step();
    return pending_count_.int_at(0);
}

void GroupOutbox::mark_done(const std::string& id) { done_.bind(1, id).run(); }

}  // namespace chat::storage
