// The prekey directory behind /v1/keys: uploads of identity key, signed prekey and one-time
// prekeys, the device's own status, and bundles that hand out each one-time prekey once.
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace chat::sidecar {

// Thread-safe: every call leases its own Store.
class PrekeyService {
public:
    static constexpr size_t max_upload = 100;           // one-time prekeys per request
    static constexpr int64_t max_stored = 200;          // one-time prekeys per device
    explicit PrekeyService(StorePool& pool) : pool_(pool) {}

    // PUT /v1/keys. Only `identity_key` (32 bytes, X25519): the version-1 call, answers nullopt
    // (204). With `registration_id`, `signed_prekey` and/or `prekeys` (keys 33 bytes, type 0x05
    // first): a bundle upload, answers {"prekeys_left"}. ApiError 400 on anything malformed.
    std::optional<nlohmann::json> put(const storage::DeviceRef& self, const nlohmann::json& body, int64_t now_ms);
    // GET /v1/keys: {"device","prekeys_left","signed_prekey_id"} of the calling device.
    nlohmann::json status(const storage::DeviceRef& self);
    // GET /v1/keys/{user}[?known=d1,d2]: {"user","devices":[bundle...]}, without the asking
    // device itself; `known` devices (sessions exist) only as {"device","identity_key"}.
    // ApiError 400/404 for a bad or unknown user.
    nlohmann::json bundles(const storage::DeviceRef& asker, const std::string& user, const std::string& known = {});

private:
    StorePool& pool_;
};

}  // namespace chat::sidecar
