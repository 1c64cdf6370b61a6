// Auth, blocks and presence over storage::Directory and storage::Blocks.
#include "directory_service.h"

#include "api_error.h"
#include "common/identity.h"
#include "storage/profiles.h"

namespace chat::sidecar {

storage::DeviceRef DirectoryService::authenticate(const std::string& header) {
    constexpr std::string_view prefix = "Bearer ";
    if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0) {
        throw ApiError(401, "missing bearer token");
    }
    auto device = pool_.lease()->directory.find_by_token_hash(hash_token(header.substr(prefix.size())));
    if (!device) throw ApiError(401, "unknown or revoked token");
    return *device;
}

void DirectoryService::require_user_id(const std::string& user) {
    if (!is_user_id(user)) throw ApiError(400, "bad user id");
}

void DirectoryService::block(const storage::DeviceRef& self, const std::string& user) {
    // An unknown number is blocked like any other (refusing would reveal it is not registered).
    require_user_id(user);
    auto store = pool_.lease();
    if (user == self.user) throw ApiError(400, "cannot block yourself");
    storage::Transaction tx(store->db);
    store->blocks.block(self.user, user);  // also records the ACL change the broker polls
    tx.commit();
}

void DirectoryService::unblock(const storage::DeviceRef& self, const std::string& user) {
    require_user_id(user);
    auto store = pool_.lease();
    storage::Transaction tx(store->db);
    store->blocks.unblock(self.user, user);
    tx.commit();
}

nlohmann::json DirectoryService::presence(const storage::DeviceRef& self, const std::string& user) {
    require_user_id(user);
    auto store = pool_.lease();
    auto row = store->directory.presence(user);
    // A blocked caller sees exactly what a hidden presence shows, so a block is not revealed;
    // an unknown user too, so registration is not.
    bool shown = row && !row->hidden && !store->blocks.is_blocked(user, self.user) &&
                 (user == self.user || storage::visible(store->profiles.get(user).last_seen_visibility,
                                                        store->contacts.are_contacts(user, self.user)));
    if (!shown) return {{"user", user}, {"hidden", true}};
    nlohmann::json out = {{"user", user}, {"online", row->online_devices > 0}};
    out["last_seen_ms"] = row->last_seen_ms ? nlohmann::json(row->last_seen_ms) : nlohmann::json(nullptr);
    return out;
}

void DirectoryService::set_hide_presence(const storage::DeviceRef& self, bool hidden) {
    pool_.lease()->directory.set_hide_presence(self.user, hidden);
}

std::vector<std::string> DirectoryService::phone_users(const std::vector<std::string>& phones) {
    std::vector<std::string> users;
    for (const auto& phone : phones) {
        std::string user = phone.size() > 1 && phone[0] == '+' ? phone.substr(1) : phone;
        if (!is_user_id(user)) throw ApiError(400, "not a phone number: " + phone);
        users.push_back(std::move(user));
    }
    return users;
}

nlohmann::json DirectoryService::discover(const std::vector<std::string>& phones) {
    auto users = phone_users(phones);
    auto store = pool_.lease();
    nlohmann::json found = nlohmann::json::array();
    for (size_t i = 0; i < phones.size(); ++i) {
        if (store->accounts.user_exists(users[i])) found.push_back({{"phone", phones[i]}, {"user", users[i]}});
    }
    return {{"registered", found}};
}

}  // namespace chat::sidecar
