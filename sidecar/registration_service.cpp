// Registration and verification logic over storage::Registrations and storage::Accounts.
#include "registration_service.h"

#include "api_error.h"
#include "common/identity.h"
#include "quotas.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>

namespace chat::sidecar {
namespace {

// The code is hashed together with the phone so equal codes of two phones differ in storage.
std::string code_secret(const std::string& user, const std::string& code) { return user + ":" + code; }

std::string new_code() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    char buf[8];
    std::snprintf(buf, sizeof buf, "%06u", randombytes_uniform(1000000));
    return buf;
}

bool is_code(std::string_view s) {
    return s.size() == 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string require_user(std::string_view phone) {
    auto user = user_id_from_phone(phone);
    if (!user) throw ApiError(400, "phone must be E.164, e.g. +15550001");
    return *user;
}

}  // namespace

std::optional<std::string> user_id_from_phone(std::string_view phone) {
    if (phone.size() < 2 || phone[0] != '+') return std::nullopt;
    std::string digits(phone.substr(1));
    if (!is_user_id(digits)) return std::nullopt;
    return digits;
}

RegistrationService::RegistrationService(StorePool& pool, SmsSender& sms, Metrics& metrics,
                                         const SidecarConfig& config)
    : pool_(pool),
      sms_(sms),
      metrics_(metrics),
      code_ttl_ms_(config.code_ttl_ms),
      code_attempts_(config.code_attempts),
      per_phone_(config.register_per_phone),
      per_address_(config.register_per_address),
      verify_per_address_(config.verify_per_address) {}

void RegistrationService::request_code(const std::string& phone, const std::string& client_addr, int64_t now_ms) {
    std::string user = require_user(phone);
    // Both limits are checked before either records a hit: a refusal must not use up the other quota.
    int64_t wait_ms = std::max(per_address_.retry_after(client_addr, now_ms), per_phone_.retry_after(user, now_ms));
    if (wait_ms > 0) refuse_rate_limited(wait_ms, metrics_);
    check_limit(per_address_, client_addr, now_ms, metrics_);
    check_limit(per_phone_, user, now_ms, metrics_);
    std::string code = new_code();
    {
        auto store = pool_.lease();
        store->registrations.put_code(user, hash_token(code_secret(user, code)), now_ms + code_ttl_ms_,
                                      code_attempts_, now_ms);
    }
    try {
        sms_.send(phone, code);
    } catch (const std::exception& e) {
        // A code nobody received must not stay valid.
        pool_.lease()->registrations.consume(user);
        throw ApiError(502, std::string("could not send the SMS: ") + e.what());
    }
    metrics_.add(Counter::codes_sent);
}

Credentials RegistrationService::verify(const std::string& phone, const std::string& code,
                                        const std::string& client_addr, int64_t now_ms) {
    std::string user = require_user(phone);
    if (!is_code(code)) throw ApiError(400, "code must be 6 digits");
    check_limit(verify_per_address_, client_addr, now_ms, metrics_);

    auto store = pool_.lease();
    auto pending = store->registrations.find(user);
    if (!pending || pending->expires_ms <= now_ms) {
        if (pending) store->registrations.consume(user);
        metrics_.add(Counter::verification_failures);
        throw ApiError(403, "no valid code for this phone; register again");
    }
    if (!token_matches(code_secret(user, code), pending->code_hash)) {
        int64_t left = store->registrations.record_failure(user);
        metrics_.add(Counter::verification_failures);
        if (left <= 0) throw ApiError(403, "too many wrong codes; register again");
        throw ApiError(401, "wrong code", {{"attempts_left", left}});
    }

    Credentials creds;
    creds.user = user;
    creds.token = new_device_token();
    storage::Transaction tx(store->db);
    // Consuming inside the transaction makes a code single-use even under concurrent verifies.
    if (!store->registrations.consume(user)) throw ApiError(403, "no valid code for this phone; register again");
    creds.new_user = store->accounts.create_user(user, now_ms);
    creds.device = store->accounts.next_device_id(user);
    store->accounts.add_device(user, creds.device, hash_token(creds.token), now_ms);
    tx.commit();
    metrics_.add(Counter::registrations);
    if (creds.new_user) metrics_.add(Counter::users_created);
    return creds;
}

}  // namespace chat::sidecar
