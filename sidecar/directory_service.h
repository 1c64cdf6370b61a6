// Bearer-token auth, blocks and presence (the key directory is prekey_service.h).
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace chat::sidecar {

// Thread-safe: every call leases its own Store.
class DirectoryService {
public:
    explicit DirectoryService(StorePool& pool) : pool_(pool) {}

    // The device behind an "Authorization: Bearer {token}" header value; ApiError 401 otherwise.
    storage::DeviceRef authenticate(const std::string& authorization_header);
    void block(const storage::DeviceRef& self, const std::string& user);
    void unblock(const storage::DeviceRef& self, const std::string& user);
    // {"user","online","last_seen_ms"}, or {"user","hidden":true} when hidden, when the last-seen
    // visibility excludes the caller, when the caller is blocked, or for an unknown user.
    nlohmann::json presence(const storage::DeviceRef& self, const std::string& user);
    void set_hide_presence(const storage::DeviceRef& self, bool hidden);
    // {"registered":[{"phone","user"}]}: which of `phones` ("+" and digits, or digits) are users.
    // Check the input with phone_users() and the caller's limits (Quotas::discover) first.
    nlohmann::json discover(const std::vector<std::string>& phones);
    // The user id each phone number would have; ApiError 400 for one that is no number.
    static std::vector<std::string> phone_users(const std::vector<std::string>& phones);

private:
    static void require_user_id(const std::string& user);
    StorePool& pool_;
};

}  // namespace chat::sidecar
