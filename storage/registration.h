// Pending phone verification codes (stored as hashes) for the sidecar's register/verify flow.
#pragma once

#include "db.h"

#include <optional>
#include <string>

namespace chat::storage {

struct PendingCode {
    std::string code_hash;
    int64_t expires_ms = 0;
    int64_t attempts_left = 0;
};

class Registrations {
public:
    explicit Registrations(Database& db);

    // Replaces any earlier code for `phone`: a resend voids the previous code.
    void put_code(const std::string& phone, const std::string& code_hash, int64_t expires_ms, int64_t attempts,
                  int64_t now_ms);
    std::optional<PendingCode> find(const std::string& phone);
    // One wrong attempt; returns the attempts left (the row is deleted at 0).
    int64_t record_failure(const std::string& phone);
    // Deletes the code; true when there was one. Call in the verify Transaction so a code is used once.
    bool consume(const std::string& phone);

private:
    Database& db_;
    Statement put_, find_, fail_, delete_;
};

}  // namespace chat::storage
