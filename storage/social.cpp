// Prepared statements over groups, group_members, blocks and acl_changes.
#include "social.h"

namespace chat::storage {
namespace {

constexpr const char* record_change_sql = "INSERT INTO acl_changes(user_id) VALUES(?)";

std::vector<std::string> column_strings(Statement& s) {
    ResetOnExit r(s);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text_at(0));
    return out;
}

}  // namespace

Groups::Groups(Database& db)
    : db_(db),
      insert_group_(db, "INSERT INTO groups(id, name, created_ms) VALUES(?, ?, ?)"),
      find_group_(db, "SELECT name FROM groups WHERE id = ?"),
      insert_member_(db, "INSERT INTO group_members(gid, user_id, is_admin) VALUES(?, ?, ?) "
                          "ON CONFLICT(gid, user_id) DO NOTHING"),
      delete_member_(db, "DELETE FROM group_members WHERE gid = ? AND user_id = ?"),
      member_flags_(db, "SELECT is_admin FROM group_members WHERE gid = ? AND user_id = ?"),
      list_members_(db, "SELECT user_id, is_admin FROM group_members WHERE gid = ? ORDER BY user_id"),
      list_groups_(db, "SELECT gid FROM group_members WHERE user_id = ? ORDER BY gid"),
      record_change_(db, record_change_sql),
      has_admin_(db, "SELECT 1 FROM group_members WHERE gid = ? AND is_admin = 1 LIMIT 1"),
      promote_oldest_(db,
                      "UPDATE group_members SET is_admin = 1 WHERE gid = ?1 AND user_id = "
                      "(SELECT user_id FROM group_members WHERE gid = ?1 ORDER BY user_id LIMIT 1) RETURNING user_id"),
      blocked_(db, "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?") {}

void Groups::create(const std::string& gid, const std::string& name, const std::string& creator,
                    const std::vector<std::string>& members, int64_t now_ms) {
    insert_group_.bind(1, gid).bind(2, name).bind(3, now_ms).run();
    add_member(gid, creator, true, creator);
    for (const auto& m : members) {
        if (m != creator) add_member(gid, m, false, creator);
    }
}

std::optional<GroupInfo> Groups::find(const std::string& gid) {
    GroupInfo info;
    {
        ResetOnExit r(find_group_);
        if (!find_group_.bind(1, gid).step()) return std::nullopt;
        info.id = gid;
        info.name = find_group_.text_at(0);
    }
    ResetOnExit r(list_members_);
    list_members_.bind(1, gid);
    while (list_members_.step()) {
        info.members.push_back(list_members_.text_at(0));
        if (list_members_.int_at(1)) info.admins.push_back(list_members_.text_at(0));
    }
    return info;
}

bool Groups::add_member(const std::string& gid, const std::string& user, bool admin, const std::string& by) {
    if (!by.empty() && by != user) {
        ResetOnExit r(blocked_);
        if (blocked_.bind(1, user).bind(2, by).step()) {
            throw NotAllowed("user " + user + " blocked " + by + ", who therefore cannot add them to a group");
        }
    }
    insert_member_.bind(1, gid).bind(2, user).bind(3, int64_t{admin}).run();
    if (db_.changes() != 1) return false;
    record_change_.bind(1, user).run();
    return true;
}

bool Groups::remove_member(const std::string& gid, const std::string& user) {
    delete_member_.bind(1, gid).bind(2, user).run();
    if (db_.changes() != 1) return false;
    record_change_.bind(1, user).run();
    return true;
}

std::optional<std::string> Groups::ensure_admin(const std::string& gid) {
    {
        ResetOnExit r(has_admin_);
        if (has_admin_.bind(1, gid).step()) return std::nullopt;
    }
    ResetOnExit r(promote_oldest_);
    if (!promote_oldest_.bind(1, gid).step()) return std::nullopt;
    std::string user = promote_oldest_.text_at(0);
    while (promote_oldest_.step()) {
    }
    return user;
}

bool Groups::is_member(const std::string& gid, const std::string& user) {
    ResetOnExit r(member_flags_);
    return member_flags_.bind(1, gid).bind(2, user).step();
}

bool Groups::is_admin(const std::string& gid, const std::string& user) {
    ResetOnExit r(member_flags_);
    return member_flags_.bind(1, gid).bind(2, user).step() && member_flags_.int_at(0) != 0;
}

std::vector<std::string> Groups::members(const std::string& gid) {
    list_members_.bind(1, gid);
    return column_strings(list_members_);
}

std::vector<std::string> Groups::groups_of(const std::string& user) {
    list_groups_.bind(1, user);
    return column_strings(list_groups_);
}

Blocks::Blocks(Database& db)
    : db_(db),
      insert_(db, "INSERT INTO blocks(blocker, blocked) VALUES(?, ?) ON CONFLICT(blocker, blocked) DO NOTHING"),
      delete_(db, "DELETE FROM blocks WHERE blocker = ? AND blocked = ?"),
      exists_(db, "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?"),
      blockers_(db, "SELECT blocker FROM blocks WHERE blocked = ?"),
      record_change_(db, record_change_sql) {}

bool Blocks::block(const std::string& blocker, const std::string& blocked) {
    insert_.bind(1, blocker).bind(2, blocked).run();
    if (db_.changes() != 1) return false;
    record_change_.bind(1, blocked).run();
    return true;
}

bool Blocks::unblock(const std::string& blocker, const std::string& blocked) {
    delete_.bind(1, blocker).bind(2, blocked).run();
    if (db_.changes() != 1) return false;
    record_change_.bind(1, blocked).run();
    return true;
}

bool Blocks::is_blocked(const std::string& blocker, const std::string& blocked) {
    ResetOnExit r(exists_);
    return exists_.bind(1, blocker).bind(2, blocked).step();
}

std::vector<std::string> Blocks::blockers_of(const std::string& user) {
    blockers_.bind(1, user);
    return column_strings(blockers_);
}

AclChanges::AclChanges(Database& db)
    : latest_(db, "SELECT COALESCE(MAX(id), 0) FROM acl_changes"),
      since_(db, "SELECT id, user_id FROM acl_changes WHERE id > ? ORDER BY id LIMIT 1000") {}

int64_t AclChanges::latest_id() {
    ResetOnExit r(latest_);
    latest_.step();
    return latest_.int_at(0);
}

AclChangeBatch AclChanges::since(int64_t id) {
    ResetOnExit r(since_);
    AclChangeBatch batch{{}, id};
    since_.bind(1, id);
    while (since_.step()) {
        batch.last_id = since_.int_at(0);
        batch.users.push_back(since_.text_at(1));
    }
    return batch;
}

}  // namespace chat::storage
