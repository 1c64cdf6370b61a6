// Batched deletes over inbox and group_outbox; each call is one short statement.
#include "retention.h"

#include "common/identity.h"

namespace chat::storage {
namespace {

// Every id starts with its entry's ts in fixed-width hex (format_message_id), so the ids below
// this one are exactly those stamped before `cutoff_ms`: a range of inbox_by_id. The sweeps
// still check ts, so an id from elsewhere can keep an entry longer, never drop it early.
std::string first_id_at(int64_t cutoff_ms) { return format_message_id(cutoff_ms, 0); }

}  // namespace

Retention::Retention(Database& db)
    : db_(db),
      // A row's own address (SQLite's rowid, PostgreSQL's ctid) picks the rows of a batch: the
      // inbox has no short key of its own.
      expired_(db, Sql{"DELETE FROM inbox WHERE rowid IN (SELECT rowid FROM inbox "
                       "WHERE expires_ms IS NOT NULL AND expires_ms <= ? LIMIT ?)",
                       "DELETE FROM inbox WHERE ctid IN (SELECT ctid FROM inbox "
                       "WHERE expires_ms IS NOT NULL AND expires_ms <= ? LIMIT ?)"}),
      expired_outbox_(db, "DELETE FROM group_outbox WHERE id IN (SELECT id FROM group_outbox "
                          "WHERE expires_ms IS NOT NULL AND expires_ms <= ? LIMIT ?)"),
      old_(db, Sql{"DELETE FROM inbox WHERE rowid IN (SELECT rowid FROM inbox WHERE id < ? AND ts < ? LIMIT ?)",
                   "DELETE FROM inbox WHERE ctid IN (SELECT ctid FROM inbox WHERE id < ? AND ts < ? LIMIT ?)"}),
      old_outbox_(db, "DELETE FROM group_outbox WHERE id IN (SELECT id FROM group_outbox WHERE ts < ? LIMIT ?)"),
      // A user with no live device keeps everything until expiry: nobody has acked it.
      acked_(db, Sql{"DELETE FROM inbox WHERE rowid IN (SELECT i.rowid FROM inbox i "
                     "WHERE i.id < ? AND i.ts < ? AND i.seq <= (SELECT MIN(d.cursor) FROM devices d "
                     "WHERE d.user_id = i.user_id AND d.revoked = 0) LIMIT ?)",
                     "DELETE FROM inbox WHERE ctid IN (SELECT i.ctid FROM inbox i "
                     "WHERE i.id < ? AND i.ts < ? AND i.seq <= (SELECT MIN(d.cursor) FROM devices d "
                     "WHERE d.user_id = i.user_id AND d.revoked = 0) LIMIT ?)"}) {}

int64_t Retention::drop_expired(int64_t now_ms, int limit) {
    expired_.bind(1, now_ms).bind(2, int64_t{limit}).run();
    int64_t n = db_.changes();
    expired_outbox_.bind(1, now_ms).bind(2, int64_t{limit}).run();
    return n + db_.changes();
}

int64_t Retention::drop_older_than(int64_t cutoff_ms, int limit) {
    old_.bind(1, first_id_at(cutoff_ms)).bind(2, cutoff_ms).bind(3, int64_t{limit}).run();
    int64_t n = db_.changes();
    old_outbox_.bind(1, cutoff_ms).bind(2, int64_t{limit}).run();
    return n + db_.changes();
}

int64_t Retention::drop_acked_older_than(int64_t cutoff_ms, int limit) {
    acked_.bind(1, first_id_at(cutoff_ms)).bind(2, cutoff_ms).bind(3, int64_t{limit}).run();
    return db_.changes();
}

}  // namespace chat::storage
