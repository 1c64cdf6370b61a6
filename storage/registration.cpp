// Prepared statements over verification_codes.
#include "registration.h"

namespace chat::storage {

Registrations::Registrations(Database& db)
    : db_(db),
      put_(db,
           "INSERT INTO verification_codes(phone, code_hash, expires_ms, attempts_left, created_ms) "
           "VALUES(?, ?, ?, ?, ?) ON CONFLICT(phone) DO UPDATE SET code_hash = excluded.code_hash, "
           "expires_ms = excluded.expires_ms, attempts_left = excluded.attempts_left, created_ms = excluded.created_ms"),
      find_(db, "SELECT code_hash, expires_ms, attempts_left FROM verification_codes WHERE phone = ?"),
      fail_(db, "UPDATE verification_codes SET attempts_left = attempts_left - 1 WHERE phone = ? "
                "RETURNING attempts_left"),
      delete_(db, "DELETE FROM verification_codes WHERE phone = ?") {}

void Registrations::put_code(const std::string& phone, const std::string& code_hash, int64_t expires_ms,
                             int64_t attempts, int64_t now_ms) {
    put_.bind(1, phone).bind_blob(2, code_hash).bind(3, expires_ms).bind(4, attempts).bind(5, now_ms).run();
}

std::optional<PendingCode> Registrations::find(const std::string& phone) {
    ResetOnExit r(find_);
    if (!find_.bind(1, phone).step()) return std::nullopt;
    return PendingCode{find_.blob_at(0), find_.int_at(1), find_.int_at(2)};
}

int64_t Registrations::record_failure(const std::string& phone) {
    int64_t left = 0;
    {
        ResetOnExit r(fail_);
        if (fail_.bind(1, phone).step()) left = fail_.int_at(0);
        while (fail_.step()) {
        }
    }
    if (left <= 0) consume(phone);
    return left;
}

bool Registrations::consume(const std::string& phone) {
    delete_.bind(1, phone).run();
    return db_.changes() == 1;
}

}  // namespace chat::storage
