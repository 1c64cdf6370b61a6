// Prepared statements for the bridge: chunked member lists, receipts and their marks, feeds.
#include "fanout.h"

namespace chat::storage {

Fanout::Fanout(Database& db)
    : members_(db, "SELECT user_id FROM group_members WHERE gid = ? AND user_id > ? ORDER BY user_id LIMIT ?"),
      delivered_(db,
                 "SELECT seq, id, from_user FROM inbox WHERE user_id = ? AND seq > ? AND seq <= ? "
                 "AND kind IN ('msg', 'edit', 'delete', 'media') AND from_user <> user_id ORDER BY seq LIMIT ?"),
      events_(db, "SELECT id, gid, user_id, change, ts, COALESCE(actor, ''), COALESCE(detail, '') FROM group_events "
                   "WHERE id > ? ORDER BY id LIMIT ?"),
      profile_events_(db, "SELECT id, user_id, ts FROM profile_events WHERE id > ? ORDER BY id LIMIT ?"),
      state_(db, "SELECT value FROM bridge_state WHERE key = ?"),
      set_state_(db, "INSERT INTO bridge_state(key, value) VALUES(?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      holders_(db, "SELECT user_id FROM inbox WHERE id = ? AND user_id > ? ORDER BY user_id LIMIT ?") {}

std::vector<std::string> Fanout::holders_after(const std::string& id, const std::string& after, int limit) {
    ResetOnExit r(holders_);
    holders_.bind(1, id).bind(2, after).bind(3, int64_t{limit});
    std::vector<std::string> out;
    while (holders_.step()) out.push_back(holders_.text_at(0));
    return out;
}

std::vector<std::string> Fanout::members_after(const std::string& gid, const std::string& after, int limit) {
    ResetOnExit r(members_);
    members_.bind(1, gid).bind(2, after).bind(3, int64_t{limit});
    std::vector<std::string> out;
    while (members_.step()) out.push_back(members_.text_at(0));
    return out;
}

std::map<std::string, std::vector<std::string>> Fanout::delivered_ids(const std::string& user, int64_t after,
                                                                      int64_t upto, int limit, int64_t& next) {
    ResetOnExit r(delivered_);
    delivered_.bind(1, user).bind(2, after).bind(3, upto).bind(4, int64_t{limit});
    std::map<std::string, std::vector<std::string>> out;
    int rows = 0;
    next = upto;
    while (delivered_.step()) {
        out[delivered_.text_at(2)].push_back(delivered_.text_at(1));
        if (++rows == limit) next = delivered_.int_at(0);
    }
    return out;
}

std::vector<GroupEvent> Fanout::profile_events_after(int64_t after, int limit) {
    ResetOnExit r(profile_events_);
    profile_events_.bind(1, after).bind(2, int64_t{limit});
    std::vector<GroupEvent> out;
    while (profile_events_.step()) {
        GroupEvent e;
        e.id = profile_events_.int_at(0);
        e.user = profile_events_.text_at(1);
        e.change = "profile";
        e.ts = profile_events_.int_at(2);
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<GroupEvent> Fanout::group_events_after(int64_t after, int limit) {
    ResetOnExit r(events_);
    events_.bind(1, after).bind(2, int64_t{limit});
    std::vector<GroupEvent> out;
    while (events_.step()) {
        out.push_back(GroupEvent{events_.int_at(0), events_.text_at(1), events_.text_at(2), events_.text_at(3),
                                 events_.int_at(4), events_.text_at(5), events_.text_at(6)});
    }
    return out;
}

int64_t Fanout::state(const std::string& key) {
    ResetOnExit r(state_);
    return state_.bind(1, key).step() ? state_.int_at(0) : 0;
}

void Fanout::set_state(const std::string& key, int64_t value) { set_state_.bind(1, key).bind(2, value).run(); }

ReceiptMarks::ReceiptMarks(Database& db)
    : owed_(db, "SELECT id FROM users WHERE delivered_seq > receipts_done LIMIT ?"),
      // Only when no run is under way: an unfinished one is redone exactly as it was.
      start_(db, "UPDATE users SET receipts_target = delivered_seq, receipts_ms = ?2 "
                 "WHERE id = ?1 AND receipts_target = receipts_done AND delivered_seq > receipts_done"),
      read_(db, "SELECT receipts_done, receipts_target, receipts_ms FROM users WHERE id = ?"),
      finish_(db, "UPDATE users SET receipts_done = CASE WHEN receipts_done < ?2 THEN ?2 ELSE receipts_done END "
                  "WHERE id = ?1") {}

std::vector<std::string> ReceiptMarks::owed(int limit) {
    ResetOnExit r(owed_);
    owed_.bind(1, int64_t{limit});
    std::vector<std::string> out;
    while (owed_.step()) out.push_back(owed_.text_at(0));
    return out;
}

std::optional<ReceiptRun> ReceiptMarks::take(const std::string& user, int64_t now_ms) {
    start_.bind(1, user).bind(2, now_ms).run();
    ResetOnExit r(read_);
    if (!read_.bind(1, user).step()) return std::nullopt;
    ReceiptRun run{read_.int_at(0), read_.int_at(1), read_.int_at(2)};
    if (run.target <= run.done) return std::nullopt;
    return run;
}

void ReceiptMarks::finish(const std::string& user, const ReceiptRun& run) {
    finish_.bind(1, user).bind(2, run.target).run();
}

PushClaims::PushClaims(Database& db)
    : claim_(db, "INSERT INTO push_claims(user_id, last_ms) VALUES(?1, ?2) ON CONFLICT(user_id) DO UPDATE "
                 "SET last_ms = excluded.last_ms WHERE push_claims.last_ms + ?3 <= ?2 RETURNING last_ms"),
      last_(db, "SELECT last_ms FROM push_claims WHERE user_id = ?") {}

std::optional<int64_t> PushClaims::claim(const std::string& user, int64_t now_ms, int64_t window_ms) {
    {
        ResetOnExit r(claim_);
        if (claim_.bind(1, user).bind(2, now_ms).bind(3, window_ms).step()) return std::nullopt;
    }
    ResetOnExit r(last_);
    return last_.bind(1, user).step() ? last_.int_at(0) : now_ms;
}

}  // namespace chat::storage
