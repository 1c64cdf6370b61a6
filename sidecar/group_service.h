// Group management with permissions. Membership, admin and settings changes reach members as
// `notice` entries (naming the actor) through the group_events feed the bridge turns into notices.
#pragma once

#include "store_pool.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace chat::sidecar {

// Thread-safe: every call leases its own Store; each change is one short transaction.
class GroupService {
public:
    explicit GroupService(StorePool& pool, size_t max_members = 1024) : pool_(pool), max_members_(max_members) {}

    // Returns the new group id; the caller becomes admin. ApiError 400/404 for bad names or unknown users.
    std::string create(const std::string& caller, const std::string& name, const std::vector<std::string>& members,
                       int64_t now_ms);
    // {"groups":[{"id","name","admin","members"}]}: the caller's groups.
    nlohmann::json list(const std::string& caller);
    // {"id","name","description","avatar","admins_only_send","admins_only_edit","members","admins"};
    // members only (403), 404 unknown group.
    nlohmann::json get(const std::string& caller, const std::string& gid);
    // Admins only; 409 when already a member.
    void add_member(const std::string& caller, const std::string& gid, const std::string& user);
    // Admins remove anyone; anyone removes (leaves) themselves; 404 when not a member.
    void remove_member(const std::string& caller, const std::string& gid, const std::string& user);
    // Body fields name, description, avatar (a media id; "" clears), admins_only_send,
    // admins_only_edit. Members may edit name/description/avatar unless admins_only_edit;
    // the two switches are for admins only (403).
    void update(const std::string& caller, const std::string& gid, const nlohmann::json& body, int64_t now_ms);
    // Admins promote/demote members; 404 not a member, 409 no change or the last admin.
    void set_admin(const std::string& caller, const std::string& gid, const std::string& user, bool admin,
                   int64_t now_ms);

private:
    StorePool& pool_;
    size_t max_members_;
};

}  // namespace chat::sidecar
