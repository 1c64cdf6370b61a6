// Prepared statements over devices/users for the sidecar's auth and presence.
#include "directory.h"

namespace chat::storage {

Directory::Directory(Database& db)
    : by_token_(db, "SELECT user_id, device_id FROM devices WHERE token_hash = ? AND revoked = 0"),
      presence_(db, "SELECT COALESCE(last_seen_ms, 0), hide_presence, "
                    "(SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.online = 1) "
                    "FROM users u WHERE id = ?"),
      hide_(db, "UPDATE users SET hide_presence = ? WHERE id = ?") {}

std::optional<DeviceRef> Directory::find_by_token_hash(const std::string& token_hash) {
    ResetOnExit r(by_token_);
    by_token_.bind_blob(1, token_hash);
    if (!by_token_.step()) return std::nullopt;
    return DeviceRef{by_token_.text_at(0), by_token_.text_at(1)};
}

std::optional<PresenceRow> Directory::presence(const std::string& user) {
    ResetOnExit r(presence_);
    if (!presence_.bind(1, user).step()) return std::nullopt;
    return PresenceRow{presence_.int_at(0), presence_.int_at(1) != 0, presence_.int_at(2)};
}

void Directory::set_hide_presence(const std::string& user, bool hidden) {
    hide_.bind(1, int64_t{hidden}).bind(2, user).run();
}

}  // namespace chat::storage
