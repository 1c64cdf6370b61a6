// Bearer-token auth, blocks and presence (the key directory is prekey_service.h).
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <string>

namespace chat::sidecar {

// Thread-safe: every call leases its own Store.
class DirectoryService {
public:
    explicit DirectoryService(StorePool& pool) : pool_(pool) {}

    // The device behind an "Authorization: Bearer {token}" header value; ApiError 401 otherwise.
    storage::DeviceRef authenticate(const std::string& authorization_header);
    void block(const storage::DeviceRef& self, const std::string& user);
    void unblock(const storage::DeviceRef& self, const std::string& user);
    // {"user","online","last_seen_ms"}, or {"user","hidden":true} when hidden or the caller is blocked.
    nlohmann::json presence(const storage::DeviceRef& self, const std::string& user);
    void set_hide_presence(const storage::DeviceRef& self, bool hidden);

private:
    void require_user(Store& store, const std::string& user);
    StorePool& pool_;
};

}  // namespace chat::sidecar
