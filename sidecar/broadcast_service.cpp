// Broadcast list CRUD over storage::BroadcastLists, with the owner-only rule and size limits.
#include "broadcast_service.h"

#include "api_error.h"
#include "common/identity.h"

namespace chat::sidecar {
namespace {

storage::BroadcastList require_list(Store& store, const std::string& owner, const std::string& list) {
    if (!is_list_id(list)) throw ApiError(400, "bad list id");
    auto found = store.lists.find(owner, list);
    if (!found) throw ApiError(404, "unknown list");  // another user's list is not shown to exist
    return *found;
}

void require_member_candidate(Store& store, const std::string& owner, const std::string& user) {
    if (!is_user_id(user)) throw ApiError(400, "bad user id: " + user);
    if (user == owner) throw ApiError(400, "a list cannot include its owner");
    if (!store.accounts.user_exists(user)) throw ApiError(404, "unknown user: " + user);
}

nlohmann::json to_json(const storage::BroadcastList& l) {
    return {{"id", l.id}, {"name", l.name}, {"members", l.members}};
}

}  // namespace

std::string BroadcastService::create(const std::string& owner, const std::string& name,
                                     const std::vector<std::string>& members, int64_t now_ms) {
    if (name.empty() || name.size() > 100) throw ApiError(400, "name must be 1 to 100 bytes");
    if (members.size() > max_members_) throw ApiError(400, "at most " + std::to_string(max_members_) + " members");
    auto store = pool_.lease();
    for (const auto& m : members) require_member_candidate(*store, owner, m);
    if (store->lists.ids_of(owner).size() >= max_lists_) {
        throw ApiError(400, "at most " + std::to_string(max_lists_) + " lists");
    }
    storage::Transaction tx(store->db);
    std::string id;
    do {
        id = "l" + random_token(8);
    } while (store->lists.exists(id));
    store->lists.create(owner, id, name, members, now_ms);
    tx.commit();
    return id;
}

nlohmann::json BroadcastService::lists(const std::string& owner) {
    auto store = pool_.lease();
    auto out = nlohmann::json::array();
    for (const auto& l : store->lists.lists_of(owner)) out.push_back(to_json(l));
    return out;
}

nlohmann::json BroadcastService::get(const std::string& owner, const std::string& list) {
    auto store = pool_.lease();
    return to_json(require_list(*store, owner, list));
}

void BroadcastService::remove(const std::string& owner, const std::string& list) {
    auto store = pool_.lease();
    require_list(*store, owner, list);
    storage::Transaction tx(store->db);
    if (!store->lists.remove(owner, list)) throw ApiError(404, "unknown list");
    tx.commit();
}

void BroadcastService::add_member(const std::string& owner, const std::string& list, const std::string& user) {
    auto store = pool_.lease();
    auto found = require_list(*store, owner, list);
    require_member_candidate(*store, owner, user);
    if (found.members.size() >= max_members_) throw ApiError(409, "list is full");
    if (!store->lists.add_member(owner, list, user)) throw ApiError(409, "already a member");
}

void BroadcastService::remove_member(const std::string& owner, const std::string& list, const std::string& user) {
    auto store = pool_.lease();
    require_list(*store, owner, list);
    if (!is_user_id(user)) throw ApiError(400, "bad user id");
    if (!store->lists.remove_member(owner, list, user)) throw ApiError(404, "not a member");
}

}  // namespace chat::sidecar
