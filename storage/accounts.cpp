// Prepared statements over the users and devices tables.
#include "accounts.h"

namespace chat::storage {
namespace {

DeviceRow device_from(const Statement& s) {
    return DeviceRow{s.text_at(0), s.text_at(1), s.blob_at(2), s.int_at(3), s.int_at(4) != 0, s.int_at(5) != 0,
                     s.int_at(6), static_cast<int>(s.int_at(7)), s.is_null(8) ? std::string() : s.text_at(8)};
}

constexpr const char* device_columns = "user_id, device_id, token_hash, created_ms, revoked, online, cursor, compact, name";

}  // namespace

Accounts::Accounts(Database& db)
    : db_(db),
      insert_user_(db, "INSERT INTO users(id, created_ms) VALUES(?, ?) ON CONFLICT(id) DO NOTHING"),
      user_exists_(db, "SELECT 1 FROM users WHERE id = ?"),
      insert_device_(db, "INSERT INTO devices(user_id, device_id, token_hash, created_ms) VALUES(?, ?, ?, ?)"),
      find_device_(db, std::string("SELECT ") + device_columns + " FROM devices WHERE user_id = ? AND device_id = ?"),
      revoke_(db, "UPDATE devices SET revoked = 1 WHERE user_id = ? AND device_id = ? AND revoked = 0"),
      drop_push_(db, "DELETE FROM push_tokens WHERE user_id = ? AND device_id = ?"),
      record_change_(db, "INSERT INTO acl_changes(user_id) VALUES(?)"),
      list_users_(db,
                  "SELECT u.id, u.created_ms, u.last_seq, COALESCE(u.last_seen_ms, 0), "
                  "(SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.revoked = 0) FROM users u ORDER BY u.id"),
      list_devices_(db, std::string("SELECT ") + device_columns + " FROM devices WHERE user_id = ? ORDER BY device_id"),
      set_name_(db, "UPDATE devices SET name = ? WHERE user_id = ? AND device_id = ? AND revoked = 0"),
      set_online_(db, "UPDATE devices SET online = ? WHERE user_id = ? AND device_id = ?"),
      clear_online_(db, "UPDATE devices SET online = 0 WHERE online != 0"),
      set_last_seen_(db, "UPDATE users SET last_seen_ms = ? WHERE id = ?"),
      online_devices_(db, "SELECT COUNT(*) FROM devices WHERE user_id = ? AND online = 1") {}

bool Accounts::create_user(const std::string& user, int64_t now_ms) {
    insert_user_.bind(1, user).bind(2, now_ms).run();
    return db_.changes() == 1;
}

bool Accounts::user_exists(const std::string& user) {
    ResetOnExit r(user_exists_);
    return user_exists_.bind(1, user).step();
}

void Accounts::add_device(const std::string& user, const std::string& device, const std::string& token_hash,
                          int64_t now_ms) {
    insert_device_.bind(1, user).bind(2, device).bind_blob(3, token_hash).bind(4, now_ms).run();
}

std::string Accounts::next_device_id(const std::string& user) {
    for (int n = 1;; ++n) {
        std::string candidate = "d" + std::to_string(n);
        if (!find_device(user, candidate)) return candidate;
    }
}

std::optional<DeviceRow> Accounts::find_device(const std::string& user, const std::string& device) {
    ResetOnExit r(find_device_);
    if (!find_device_.bind(1, user).bind(2, device).step()) return std::nullopt;
    return device_from(find_device_);
}

bool Accounts::revoke_device(const std::string& user, const std::string& device) {
    Transaction tx(db_);
    revoke_.bind(1, user).bind(2, device).run();
    if (db_.changes() != 1) return false;
    drop_push_.bind(1, user).bind(2, device).run();
    // The broker polls this feed and disconnects the device's live sessions.
    record_change_.bind(1, user).run();
    tx.commit();
    return true;
}

bool Accounts::set_device_name(const std::string& user, const std::string& device, const std::string& name) {
    set_name_.bind_or_null(1, name).bind(2, user).bind(3, device).run();
    return db_.changes() == 1;
}

std::vector<UserRow> Accounts::list_users() {
    ResetOnExit r(list_users_);
    std::vector<UserRow> rows;
    while (list_users_.step()) {
        rows.push_back(UserRow{list_users_.text_at(0), list_users_.int_at(1), list_users_.int_at(2),
                               list_users_.int_at(3), list_users_.int_at(4)});
    }
    return rows;
}

std::vector<DeviceRow> Accounts::list_devices(const std::string& user) {
    ResetOnExit r(list_devices_);
    std::vector<DeviceRow> rows;
    list_devices_.bind(1, user);
    while (list_devices_.step()) rows.push_back(device_from(list_devices_));
    return rows;
}

void Accounts::set_online(const std::string& user, const std::string& device, bool online) {
    set_online_.bind(1, int64_t{online}).bind(2, user).bind(3, device).run();
}

void Accounts::clear_online() { clear_online_.run(); }

void Accounts::set_last_seen(const std::string& user, int64_t now_ms) {
    set_last_seen_.bind(1, now_ms).bind(2, user).run();
}

int64_t Accounts::online_devices(const std::string& user) {
    ResetOnExit r(online_devices_);
    online_devices_.bind(1, user).step();
    return online_devices_.int_at(0);
}

}  // namespace chat::storage
