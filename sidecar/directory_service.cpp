// Auth, blocks and presence over storage::Directory and storage::Blocks.
#include "directory_service.h"

#include "api_error.h"
#include "common/identity.h"

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

void DirectoryService::require_user(Store& store, const std::string& user) {
    if (!is_user_id(user)) throw ApiError(400, "bad user id");
    if (!store.accounts.user_exists(user)) throw ApiError(404, "unknown user");
}

void DirectoryService::block(const storage::DeviceRef& self, const std::string& user) {
    auto store = pool_.lease();
    require_user(*store, user);
    if (user == self.user) throw ApiError(400, "cannot block yourself");
    storage::Transaction tx(store->db);
    store->blocks.block(self.user, user);  // also records the ACL change the broker polls
    tx.commit();
}

void DirectoryService::unblock(const storage::DeviceRef& self, const std::string& user) {
    auto store = pool_.lease();
    require_user(*store, user);
    storage::Transaction tx(store->db);
    store->blocks.unblock(self.user, user);
    tx.commit();
}

nlohmann::json DirectoryService::presence(const storage::DeviceRef& self, const std::string& user) {
    auto store = pool_.lease();
    require_user(*store, user);
    auto row = store->directory.presence(user);
    // A blocked caller sees exactly what a hidden presence shows, so a block is not revealed.
    if (!row || row->hidden || store->blocks.is_blocked(user, self.user)) {
        return {{"user", user}, {"hidden", true}};
    }
    nlohmann::json out = {{"user", user}, {"online", row->online_devices > 0}};
    out["last_seen_ms"] = row->last_seen_ms ? nlohmann::json(row->last_seen_ms) : nlohmann::json(nullptr);
    return out;
}

void DirectoryService::set_hide_presence(const storage::DeviceRef& self, bool hidden) {
    pool_.lease()->directory.set_hide_presence(self.user, hidden);
}

}  // namespace chat::sidecar
