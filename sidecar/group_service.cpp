// Group create/get/add/remove over storage::Groups, with the permission checks of PROTOCOL.md.
#include "group_service.h"

#include "api_error.h"
#include "common/identity.h"

namespace chat::sidecar {
namespace {

storage::GroupInfo require_group(Store& store, const std::string& gid) {
    if (!is_group_id(gid)) throw ApiError(400, "bad group id");
    auto info = store.groups.find(gid);
    if (!info) throw ApiError(404, "unknown group");
    return *info;
}

void require_known_user(Store& store, const std::string& user) {
    if (!is_user_id(user)) throw ApiError(400, "bad user id: " + user);
    if (!store.accounts.user_exists(user)) throw ApiError(404, "unknown user: " + user);
}

}  // namespace

std::string GroupService::create(const std::string& caller, const std::string& name,
                                 const std::vector<std::string>& members, int64_t now_ms) {
    if (name.empty() || name.size() > 100) throw ApiError(400, "name must be 1 to 100 bytes");
    if (members.size() + 1 > max_members_) throw ApiError(400, "too many members");
    auto store = pool_.lease();
    for (const auto& m : members) require_known_user(*store, m);

    storage::Transaction tx(store->db);
    std::string gid;
    do {
        gid = "g" + random_token(8);
    } while (store->groups.find(gid));
    try {
        store->groups.create(gid, name, caller, members, now_ms);
    } catch (const storage::NotAllowed& e) {
        throw ApiError(403, e.what());  // a member blocked the caller
    }
    tx.commit();
    return gid;
}

nlohmann::json GroupService::get(const std::string& caller, const std::string& gid) {
    auto store = pool_.lease();
    auto info = require_group(*store, gid);
    if (!store->groups.is_member(gid, caller)) throw ApiError(403, "not a member of this group");
    return {{"id", info.id}, {"name", info.name}, {"members", info.members}, {"admins", info.admins}};
}

void GroupService::add_member(const std::string& caller, const std::string& gid, const std::string& user) {
    auto store = pool_.lease();
    auto info = require_group(*store, gid);
    if (!store->groups.is_admin(gid, caller)) throw ApiError(403, "only admins add members");
    require_known_user(*store, user);
    if (info.members.size() + 1 > max_members_) throw ApiError(409, "group is full");

    storage::Transaction tx(store->db);
    bool added = false;
    try {
        added = store->groups.add_member(gid, user, false, caller);
    } catch (const storage::NotAllowed& e) {
        throw ApiError(403, e.what());  // the user blocked the caller
    }
    if (!added) throw ApiError(409, "already a member");
    tx.commit();
}

void GroupService::remove_member(const std::string& caller, const std::string& gid, const std::string& user) {
    auto store = pool_.lease();
    require_group(*store, gid);
    if (!is_user_id(user)) throw ApiError(400, "bad user id");
    bool leaving = user == caller;
    if (!leaving && !store->groups.is_admin(gid, caller)) throw ApiError(403, "only admins remove members");
    if (!store->groups.is_member(gid, caller)) throw ApiError(403, "not a member of this group");

    storage::Transaction tx(store->db);
    if (!store->groups.remove_member(gid, user)) throw ApiError(404, "not a member");
    store->groups.ensure_admin(gid);
    tx.commit();
}

}  // namespace chat::sidecar
