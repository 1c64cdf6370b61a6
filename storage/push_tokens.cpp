// Prepared statements over push_tokens.
#include "push_tokens.h"

namespace chat::storage {

PushTokens::PushTokens(Database& db)
    : db_(db),
      drop_elsewhere_(db, "DELETE FROM push_tokens WHERE pushkey = ?1 AND NOT (user_id = ?2 AND device_id = ?3)"),
      upsert_(db,
              "INSERT INTO push_tokens(user_id, device_id, provider, app_id, pushkey, registered_ms) "
              "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, device_id) DO UPDATE SET provider = excluded.provider, "
              "app_id = excluded.app_id, pushkey = excluded.pushkey, registered_ms = excluded.registered_ms, "
              "last_push_ms = 0"),
      remove_(db, "DELETE FROM push_tokens WHERE user_id = ? AND device_id = ?"),
      targets_(db,
               "SELECT p.device_id, p.provider, p.app_id, p.pushkey, p.registered_ms FROM push_tokens p "
               "JOIN devices d ON d.user_id = p.user_id AND d.device_id = p.device_id "
               "WHERE p.user_id = ? AND d.revoked = 0 ORDER BY p.device_id"),
      claim_(db,
             "UPDATE push_tokens SET last_push_ms = ?3 WHERE user_id = ?1 AND device_id = ?2 "
             "AND last_push_ms + ?4 <= ?3"),
      reject_(db, "DELETE FROM push_tokens WHERE pushkey = ?") {}

void PushTokens::put(const std::string& user, const std::string& device, const PushTarget& token, int64_t now_ms) {
    drop_elsewhere_.bind(1, token.pushkey).bind(2, user).bind(3, device).run();
    upsert_.bind(1, user)
        .bind(2, device)
        .bind(3, token.provider)
        .bind(4, token.app_id)
        .bind(5, token.pushkey)
        .bind(6, now_ms)
        .run();
}

bool PushTokens::remove(const std::string& user, const std::string& device) {
    remove_.bind(1, user).bind(2, device).run();
    return db_.changes() == 1;
}

std::vector<PushTarget> PushTokens::targets(const std::string& user) {
    ResetOnExit r(targets_);
    std::vector<PushTarget> out;
    targets_.bind(1, user);
    while (targets_.step()) {
        out.push_back(PushTarget{targets_.text_at(0), targets_.text_at(1), targets_.text_at(2), targets_.text_at(3),
                                 targets_.int_at(4)});
    }
    return out;
}

bool PushTokens::claim(const std::string& user, const std::string& device, int64_t now_ms, int64_t window_ms) {
    claim_.bind(1, user).bind(2, device).bind(3, now_ms).bind(4, window_ms).run();
    return db_.changes() == 1;
}

int64_t PushTokens::reject(const std::string& pushkey) {
    reject_.bind(1, pushkey).run();
    return db_.changes();
}

}  // namespace chat::storage
