// Prepared statements over broadcast_lists and broadcast_members.
#include "broadcast.h"

namespace chat::storage {

BroadcastLists::BroadcastLists(Database& db)
    : db_(db),
      insert_list_(db, "INSERT INTO broadcast_lists(owner_id, list_id, name, created_ms) VALUES(?, ?, ?, ?)"),
      find_list_(db, "SELECT name FROM broadcast_lists WHERE owner_id = ? AND list_id = ?"),
      list_members_(db, "SELECT member_id FROM broadcast_members WHERE owner_id = ? AND list_id = ? ORDER BY member_id"),
      lists_of_(db, "SELECT list_id, name FROM broadcast_lists WHERE owner_id = ? ORDER BY list_id"),
      ids_of_(db, "SELECT list_id FROM broadcast_lists WHERE owner_id = ? ORDER BY list_id"),
      exists_(db, "SELECT 1 FROM broadcast_lists WHERE list_id = ?"),
      delete_list_(db, "DELETE FROM broadcast_lists WHERE owner_id = ? AND list_id = ?"),
      delete_members_(db, "DELETE FROM broadcast_members WHERE owner_id = ? AND list_id = ?"),
      insert_member_(db, "INSERT INTO broadcast_members(owner_id, list_id, member_id) VALUES(?, ?, ?) "
                         "ON CONFLICT(owner_id, list_id, member_id) DO NOTHING"),
      delete_member_(db, "DELETE FROM broadcast_members WHERE owner_id = ? AND list_id = ? AND member_id = ?"),
      reachable_(db, "SELECT m.member_id FROM broadcast_members m WHERE m.owner_id = ? AND m.list_id = ? "
                     "AND m.member_id > ? AND NOT EXISTS (SELECT 1 FROM blocks b "
                     "WHERE b.blocker = m.member_id AND b.blocked = m.owner_id) ORDER BY m.member_id LIMIT ?"),
      record_change_(db, "INSERT INTO acl_changes(user_id) VALUES(?)") {}

void BroadcastLists::create(const std::string& owner, const std::string& list, const std::string& name,
                            const std::vector<std::string>& members, int64_t now_ms) {
    insert_list_.bind(1, owner).bind(2, list).bind(3, name).bind(4, now_ms).run();
    for (const auto& m : members) insert_member_.bind(1, owner).bind(2, list).bind(3, m).run();
    record_change_.bind(1, owner).run();
}

std::optional<BroadcastList> BroadcastLists::find(const std::string& owner, const std::string& list) {
    BroadcastList out;
    {
        ResetOnExit r(find_list_);
        if (!find_list_.bind(1, owner).bind(2, list).step()) return std::nullopt;
        out.id = list;
        out.name = find_list_.text_at(0);
    }
    ResetOnExit r(list_members_);
    list_members_.bind(1, owner).bind(2, list);
    while (list_members_.step()) out.members.push_back(list_members_.text_at(0));
    return out;
}

std::vector<BroadcastList> BroadcastLists::lists_of(const std::string& owner) {
    std::vector<std::pair<std::string, std::string>> heads;
    {
        ResetOnExit r(lists_of_);
        lists_of_.bind(1, owner);
        while (lists_of_.step()) heads.emplace_back(lists_of_.text_at(0), lists_of_.text_at(1));
    }
    std::vector<BroadcastList> out;
    for (auto& [id, name] : heads) {
        BroadcastList l{id, name, {}};
        ResetOnExit r(list_members_);
        list_members_.bind(1, owner).bind(2, id);
        while (list_members_.step()) l.members.push_back(list_members_.text_at(0));
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<std::string> BroadcastLists::ids_of(const std::string& owner) {
    ResetOnExit r(ids_of_);
    ids_of_.bind(1, owner);
    std::vector<std::string> out;
    while (ids_of_.step()) out.push_back(ids_of_.text_at(0));
    return out;
}

bool BroadcastLists::exists(const std::string& list) {
    ResetOnExit r(exists_);
    return exists_.bind(1, list).step();
}

bool BroadcastLists::remove(const std::string& owner, const std::string& list) {
    delete_members_.bind(1, owner).bind(2, list).run();
    delete_list_.bind(1, owner).bind(2, list).run();
    if (db_.changes() != 1) return false;
    record_change_.bind(1, owner).run();
    return true;
}

bool BroadcastLists::add_member(const std::string& owner, const std::string& list, const std::string& member) {
    insert_member_.bind(1, owner).bind(2, list).bind(3, member).run();
    return db_.changes() == 1;
}

bool BroadcastLists::remove_member(const std::string& owner, const std::string& list, const std::string& member) {
    delete_member_.bind(1, owner).bind(2, list).bind(3, member).run();
    return db_.changes() == 1;
}

std::vector<std::string> BroadcastLists::reachable_members_after(const std::string& owner, const std::string& list,
                                                                 const std::string& after, int limit) {
    ResetOnExit r(reachable_);
    reachable_.bind(1, owner).bind(2, list).bind(3, after).bind(4, int64_t{limit});
    std::vector<std::string> out;
    while (reachable_.step()) out.push_back(reachable_.text_at(0));
    return out;
}

}  // namespace chat::storage
