// Phone registration: 6-digit codes by SMS, rate limits, and verification that issues a device and token.
#pragma once

#include "config.h"
#include "metrics.h"
#include "rate_limiter.h"
#include "sms.h"
#include "store_pool.h"

#include <optional>
#include <string>
#include <string_view>

namespace chat::sidecar {

// "+15550001" (E.164: '+', 1-15 digits, no leading 0) -> user id "15550001"; nullopt when invalid.
std::optional<std::string> user_id_from_phone(std::string_view phone);

struct Credentials {
    std::string user;
    std::string device;
    std::string token;  // shown once; only its hash is stored
    bool new_user = false;
    std::string client_id() const { return user + "/" + device; }
};

// Thread-safe: state lives in SQLite (leased per call) and in the thread-safe limiters.
class RegistrationService {
public:
    RegistrationService(StorePool& pool, SmsSender& sms, Metrics& metrics, const SidecarConfig& config);

    // Throws ApiError: 400 bad phone, 429 rate limited (Retry-After), 502 SMS sender failed.
    void request_code(const std::string& phone, const std::string& client_addr, int64_t now_ms);
    // Throws ApiError: 400 malformed, 401 wrong code, 403 no valid code, 429 rate limited.
    Credentials verify(const std::string& phone, const std::string& code, const std::string& client_addr,
                       int64_t now_ms);

private:
    StorePool& pool_;
    SmsSender& sms_;
    Metrics& metrics_;
    int64_t code_ttl_ms_;
    int code_attempts_;
    RateLimiter per_phone_, per_address_, verify_per_address_;
};

}  // namespace chat::sidecar
