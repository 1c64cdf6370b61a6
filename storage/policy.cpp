// Prepared statements for entry encodings, queue caps and redaction.
#include "policy.h"

namespace chat::storage {

Policy::Policy(Database& db)
    : encoding_(db, "SELECT compact FROM devices WHERE user_id = ? AND device_id = ?"),
      set_encoding_(db, "UPDATE devices SET compact = ? WHERE user_id = ? AND device_id = ?"),
      at_cap_(db, "SELECT 1 FROM group_members m JOIN users u ON u.id = m.user_id "
                  "WHERE m.gid = ? AND m.user_id <> ? AND u.last_seq - u.delivered_seq >= ? LIMIT 1"),
      redact_(db, "UPDATE inbox SET body = NULL WHERE user_id = ? AND id = ? AND from_user = ?"),
      redact_outbox_(db, "UPDATE group_outbox SET body = NULL WHERE id = ? AND from_user = ?") {}

Encoding Policy::encoding(const std::string& user, const std::string& device) {
    ResetOnExit r(encoding_);
    if (!encoding_.bind(1, user).bind(2, device).step()) return Encoding::json;
    int64_t stored = encoding_.int_at(0);
    return stored == 1 ? Encoding::compact : stored == 2 ? Encoding::lean : Encoding::json;
}

void Policy::set_encoding(const std::string& user, const std::string& device, Encoding encoding) {
    set_encoding_.bind(1, static_cast<int64_t>(encoding)).bind(2, user).bind(3, device).run();
}

bool Policy::member_at_cap(const std::string& gid, const std::string& except, int64_t cap) {
    ResetOnExit r(at_cap_);
    return at_cap_.bind(1, gid).bind(2, except).bind(3, cap).step();
}

void Policy::redact(const std::string& user, const std::string& id, const std::string& from) {
    redact_.bind(1, user).bind(2, id).bind(3, from).run();
}

void Policy::redact_outbox(const std::string& id, const std::string& from) {
    redact_outbox_.bind(1, id).bind(2, from).run();
}

}  // namespace chat::storage
