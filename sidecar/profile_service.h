// Profiles (display name, about, avatar) with per-field visibility, privacy settings, and what
// one user may see of another. An unknown user looks exactly like a registered one who shows
// nothing, so no look-up reveals whether a number is registered.
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <string>

namespace chat::sidecar {

// Thread-safe: every call leases its own Store.
class ProfileService {
public:
    explicit ProfileService(StorePool& pool) : pool_(pool) {}

    // The caller's own profile with its settings:
    // {"user","display_name","about","avatar","visibility":{...},"group_adds"}.
    nlohmann::json own(const storage::DeviceRef& self);
    // Changes the fields given (see PROTOCOL.md); returns own(). ApiError 400 for bad values.
    nlohmann::json update(const storage::DeviceRef& self, const nlohmann::json& body, int64_t now_ms);
    // {"user", and each of "display_name","about","avatar" that is set and visible to the caller}.
    nlohmann::json view(const storage::DeviceRef& self, const std::string& user);

private:
    StorePool& pool_;
};

}  // namespace chat::sidecar
