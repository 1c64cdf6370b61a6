// Prepared statements for entry encodings, queue caps and redaction.
#include "policy.h"

#include <nlohmann/json.hpp>

namespace chat::storage {

Policy::Policy(Database& db)
    : encoding_(db, "SELECT compact FROM devices WHERE user_id = ? AND device_id = ?"),
      set_encoding_(db, "UPDATE devices SET compact = ? WHERE user_id = ? AND device_id = ?"),
      at_cap_(db, "SELECT 1 FROM group_members m JOIN users u ON u.id = m.user_id "
                  "WHERE m.gid = ? AND m.user_id <> ? AND u.last_seq - u.delivered_seq >= ? LIMIT 1"),
      list_at_cap_(db, "SELECT 1 FROM broadcast_members m JOIN users u ON u.id = m.member_id "
                       "WHERE m.owner_id = ? AND m.list_id = ? AND u.last_seq - u.delivered_seq >= ? "
                       "AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker = m.member_id AND b.blocked = m.owner_id) "
                       "LIMIT 1"),
      // The audience as one JSON array parameter: one prepared statement whatever its size.
      audience_at_cap_(db, Sql{"SELECT 1 FROM users u WHERE u.id IN (SELECT value FROM json_each(?1)) "
                               "AND u.last_seq - u.delivered_seq >= ?2 AND NOT EXISTS (SELECT 1 FROM blocks b WHERE "
                               "(b.blocker = u.id AND b.blocked = ?3) OR (b.blocker = ?3 AND b.blocked = u.id)) LIMIT 1",
                               "SELECT 1 FROM users u WHERE u.id IN (SELECT jsonb_array_elements_text(?1::jsonb)) "
                               "AND u.last_seq - u.delivered_seq >= ?2 AND NOT EXISTS (SELECT 1 FROM blocks b WHERE "
                               "(b.blocker = u.id AND b.blocked = ?3) OR (b.blocker = ?3 AND b.blocked = u.id)) LIMIT 1"}),
      redact_(db, "UPDATE inbox SET body = NULL WHERE user_id = ? AND id = ? AND from_user = ?"),
      redact_outbox_(db, "UPDATE group_outbox SET body = NULL WHERE id = ? AND from_user = ?") {}

Encoding Policy::encoding(const std::string& user, const std::string& device) {
    ResetOnExit r(encoding_);
    if (!encoding_.bind(1, user).bind(2, device).step()) return Encoding::json;
    return encoding_of(encoding_.int_at(0));
}

void Policy::set_encoding(const std::string& user, const std::string& device, Encoding encoding) {
    set_encoding_.bind(1, static_cast<int64_t>(encoding)).bind(2, user).bind(3, device).run();
}

bool Policy::member_at_cap(const std::string& gid, const std::string& except, int64_t cap) {
    ResetOnExit r(at_cap_);
    return at_cap_.bind(1, gid).bind(2, except).bind(3, cap).step();
}

bool Policy::list_member_at_cap(const std::string& owner, const std::string& list, int64_t cap) {
    ResetOnExit r(list_at_cap_);
    return list_at_cap_.bind(1, owner).bind(2, list).bind(3, cap).step();
}

bool Policy::audience_at_cap(const std::string& poster, const std::vector<std::string>& audience, int64_t cap) {
    ResetOnExit r(audience_at_cap_);
    return audience_at_cap_.bind(1, nlohmann::json(audience).dump()).bind(2, cap).bind(3, poster).step();
}

void Policy::redact(const std::string& user, const std::string& id, const std::string& from) {
    redact_.bind(1, user).bind(2, id).bind(3, from).run();
}

void Policy::redact_outbox(const std::string& id, const std::string& from) {
    redact_outbox_.bind(1, id).bind(2, from).run();
}

}  // namespace chat::storage
