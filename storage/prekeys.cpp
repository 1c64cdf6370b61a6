// Prepared statements of the prekey directory (schema v10); every query runs on SQLite and PostgreSQL.
#include "prekeys.h"

namespace chat::storage {

Prekeys::Prekeys(Database& db)
    : db_(db),
      identity_(db, "SELECT identity_key FROM devices WHERE user_id = ? AND device_id = ?"),
      set_identity_(db, "UPDATE devices SET identity_key = ? WHERE user_id = ? AND device_id = ?"),
      drop_signed_(db, "DELETE FROM signed_prekeys WHERE user_id = ? AND device_id = ?"),
      drop_one_time_(db, "DELETE FROM one_time_prekeys WHERE user_id = ? AND device_id = ?"),
      set_signed_(db, "INSERT INTO signed_prekeys(user_id, device_id, registration_id, key_id, public_key, signature, "
                      "updated_ms) VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id, device_id) DO UPDATE SET "
                      "registration_id = excluded.registration_id, key_id = excluded.key_id, "
                      "public_key = excluded.public_key, signature = excluded.signature, updated_ms = excluded.updated_ms"),
      add_one_time_(db, "INSERT INTO one_time_prekeys(user_id, device_id, key_id, public_key) VALUES(?, ?, ?, ?) "
                        "ON CONFLICT(user_id, device_id, key_id) DO NOTHING"),
      count_(db, "SELECT COUNT(*) FROM one_time_prekeys WHERE user_id = ? AND device_id = ?"),
      signed_(db, "SELECT registration_id, key_id, public_key, signature FROM signed_prekeys "
                  "WHERE user_id = ? AND device_id = ?"),
      devices_(db, "SELECT d.device_id, d.identity_key, s.registration_id, s.key_id, s.public_key, s.signature "
                   "FROM devices d LEFT JOIN signed_prekeys s ON s.user_id = d.user_id AND s.device_id = d.device_id "
                   "WHERE d.user_id = ? AND d.revoked = 0 AND d.identity_key IS NOT NULL ORDER BY d.device_id"),
      // The lowest id left, deleted and returned in one statement. On PostgreSQL a concurrent
      // taker of the same row finds it gone and gets no row (take_one_time asks again).
      take_(db, "DELETE FROM one_time_prekeys WHERE user_id = ? AND device_id = ? AND key_id = "
                "(SELECT MIN(key_id) FROM one_time_prekeys WHERE user_id = ? AND device_id = ?) "
                "RETURNING key_id, public_key") {}

void Prekeys::set_identity(const std::string& user, const std::string& device, const std::string& identity_key) {
    std::optional<std::string> stored;
    {
        ResetOnExit r(identity_);
        if (identity_.bind(1, user).bind(2, device).step() && !identity_.is_null(0)) stored = identity_.blob_at(0);
    }
    if (stored == identity_key) return;
    drop_signed_.bind(1, user).bind(2, device).run();
    drop_one_time_.bind(1, user).bind(2, device).run();
    set_identity_.bind_blob(1, identity_key).bind(2, user).bind(3, device).run();
}

void Prekeys::set_signed(const std::string& user, const std::string& device, const SignedPrekey& s, int64_t now_ms) {
    set_signed_.bind(1, user).bind(2, device).bind(3, s.registration_id).bind(4, s.id).bind_blob(5, s.key);
    set_signed_.bind_blob(6, s.signature).bind(7, now_ms).run();
}

void Prekeys::add_one_time(const std::string& user, const std::string& device, const std::vector<PublicPrekey>& keys) {
    for (const auto& k : keys) add_one_time_.bind(1, user).bind(2, device).bind(3, k.id).bind_blob(4, k.key).run();
}

int64_t Prekeys::one_time_left(const std::string& user, const std::string& device) {
    ResetOnExit r(count_);
    count_.bind(1, user).bind(2, device).step();
    return count_.int_at(0);
}

std::optional<SignedPrekey> Prekeys::signed_prekey(const std::string& user, const std::string& device) {
    ResetOnExit r(signed_);
    if (!signed_.bind(1, user).bind(2, device).step()) return std::nullopt;
    return SignedPrekey{signed_.int_at(0), signed_.int_at(1), signed_.blob_at(2), signed_.blob_at(3)};
}

std::optional<PublicPrekey> Prekeys::take_one_time(const std::string& user, const std::string& device) {
    for (int attempt = 0; attempt < 3; ++attempt) {
        {
            ResetOnExit r(take_);
            take_.bind(1, user).bind(2, device).bind(3, user).bind(4, device);
            if (take_.step()) {
                PublicPrekey taken{take_.int_at(0), take_.blob_at(1)};
                while (take_.step()) {
                }
                return taken;
            }
        }
        if (one_time_left(user, device) == 0) break;
    }
    return std::nullopt;
}

std::vector<PrekeyBundle> Prekeys::take_bundles(const std::string& user, const std::string& except_device,
                                                const std::set<std::string>& known) {
    Transaction tx(db_);
    std::vector<PrekeyBundle> bundles;
    {
        ResetOnExit r(devices_);
        devices_.bind(1, user);
        while (devices_.step()) {
            PrekeyBundle b{devices_.text_at(0), devices_.blob_at(1), std::nullopt, std::nullopt};
            if (b.device == except_device) continue;
            if (!devices_.is_null(2) && !known.count(b.device)) {
                b.signed_prekey = SignedPrekey{devices_.int_at(2), devices_.int_at(3), devices_.blob_at(4), devices_.blob_at(5)};
            }
            bundles.push_back(std::move(b));
        }
    }
    for (auto& b : bundles) {
        if (b.signed_prekey) b.one_time = take_one_time(user, b.device);
    }
    tx.commit();
    return bundles;
}

}  // namespace chat::storage
