// Group create/get/add/remove over storage::Groups, with the permission checks of PROTOCOL.md.
#include "group_service.h"

#include "api_error.h"
#include "common/identity.h"
#include "http_util.h"

#include <optional>

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
    return {{"id", info.id},
            {"name", info.name},
            {"description", info.description},
            {"avatar", info.avatar.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.avatar)},
            {"admins_only_send", info.admins_only_send},
            {"admins_only_edit", info.admins_only_edit},
            {"members", info.members},
            {"admins", info.admins}};
}

nlohmann::json GroupService::list(const std::string& caller) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& g : pool_.lease()->groups.summaries_of(caller)) {
        out.push_back({{"id", g.id}, {"name", g.name}, {"admin", g.admin}, {"members", g.members}});
    }
    return {{"groups", out}};
}

void GroupService::update(const std::string& caller, const std::string& gid, const nlohmann::json& body,
                          int64_t now_ms) {
    storage::GroupSettingsChange change;
    auto text = [&](const char* field, size_t max) -> std::optional<std::string> {
        if (!body.contains(field)) return std::nullopt;
        auto v = string_field(body, field);
        if (v.size() > max) throw ApiError(400, std::string(field) + " is longer than " + std::to_string(max) + " bytes");
        return v;
    };
    auto flag = [&](const char* field) -> std::optional<bool> {
        if (!body.contains(field)) return std::nullopt;
        return bool_field(body, field);
    };
    change.name = text("name", 100);
    if (change.name && change.name->empty()) throw ApiError(400, "name must be 1 to 100 bytes");
    change.description = text("description", 1000);
    change.avatar = text("avatar", 128);
    change.admins_only_send = flag("admins_only_send");
    change.admins_only_edit = flag("admins_only_edit");
    if (!change.name && !change.description && !change.avatar && !change.admins_only_send && !change.admins_only_edit) {
        throw ApiError(400, "nothing to change");
    }
    auto store = pool_.lease();
    auto info = require_group(*store, gid);
    if (!store->groups.is_member(gid, caller)) throw ApiError(403, "not a member of this group");
    bool admin = store->groups.is_admin(gid, caller);
    if (!admin && (change.admins_only_send || change.admins_only_edit)) throw ApiError(403, "only admins change these switches");
    if (!admin && info.admins_only_edit) throw ApiError(403, "only admins edit this group");
    storage::Transaction tx(store->db);
    store->groups.update_settings(gid, change, caller, now_ms);
    tx.commit();
}

void GroupService::set_admin(const std::string& caller, const std::string& gid, const std::string& user, bool admin,
                             int64_t now_ms) {
    auto store = pool_.lease();
    require_group(*store, gid);
    if (!is_user_id(user)) throw ApiError(400, "bad user id");
    if (!store->groups.is_admin(gid, caller)) throw ApiError(403, "only admins promote or demote");
    if (!store->groups.is_member(gid, user)) throw ApiError(404, "not a member");
    storage::Transaction tx(store->db);
    try {
        if (!store->groups.set_admin(gid, user, admin, caller, now_ms)) {
            throw ApiError(409, admin ? "already an admin" : "not an admin");
        }
    } catch (const storage::NotAllowed& e) {
        throw ApiError(409, e.what());
    }
    tx.commit();
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
    if (!store->groups.remove_member(gid, user, caller)) throw ApiError(404, "not a member");
    store->groups.ensure_admin(gid);
    tx.commit();
}

}  // namespace chat::sidecar
