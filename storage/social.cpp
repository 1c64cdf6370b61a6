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
      find_group_(db, "SELECT name, COALESCE(description, ''), COALESCE(avatar, ''), admins_only_send, admins_only_edit "
                      "FROM groups WHERE id = ?"),
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
      blocked_(db, "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?"),
      // The feed row the group_members trigger just wrote in this transaction gets its actor.
      tag_actor_(db, "UPDATE group_events SET actor = ?1 WHERE id = (SELECT id FROM group_events "
                     "WHERE gid = ?2 AND user_id = ?3 ORDER BY id DESC LIMIT 1)"),
      set_admin_(db, "UPDATE group_members SET is_admin = ?3 WHERE gid = ?1 AND user_id = ?2 AND is_admin != ?3"),
      count_admins_(db, "SELECT COUNT(*) FROM group_members WHERE gid = ? AND is_admin = 1"),
      insert_event_(db, "INSERT INTO group_events(gid, user_id, change, ts, actor, detail) VALUES(?, ?, ?, ?, ?, ?)"),
      update_settings_(db, "UPDATE groups SET name = COALESCE(?2, name), description = COALESCE(?3, description), "
                           "avatar = COALESCE(?4, avatar), admins_only_send = COALESCE(?5, admins_only_send), "
                           "admins_only_edit = COALESCE(?6, admins_only_edit) WHERE id = ?1"),
      record_members_change_(db, "INSERT INTO acl_changes(user_id) SELECT user_id FROM group_members WHERE gid = ?"),
      postable_(db, "SELECT m.gid FROM group_members m JOIN groups g ON g.id = m.gid "
                    "WHERE m.user_id = ? AND (m.is_admin = 1 OR g.admins_only_send = 0) ORDER BY m.gid"),
      summaries_(db, "SELECT g.id, g.name, m.is_admin, (SELECT COUNT(*) FROM group_members c WHERE c.gid = g.id) "
                     "FROM group_members m JOIN groups g ON g.id = m.gid WHERE m.user_id = ? ORDER BY g.id"),
      contacts_(db),
      profiles_(db) {}

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
        info.description = find_group_.text_at(1);
        info.avatar = find_group_.text_at(2);
        info.admins_only_send = find_group_.int_at(3) != 0;
        info.admins_only_edit = find_group_.int_at(4) != 0;
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
        auto adds = profiles_.get(user).group_adds;
        if (adds == nobody || (adds == contacts_only && !contacts_.are_contacts(user, by))) {
            throw NotAllowed("user " + user + " does not let " + by + " add them to groups");
        }
    }
    insert_member_.bind(1, gid).bind(2, user).bind(3, int64_t{admin}).run();
    if (db_.changes() != 1) return false;
    tag_actor_.bind_or_null(1, by).bind(2, gid).bind(3, user).run();
    record_change_.bind(1, user).run();
    return true;
}

bool Groups::remove_member(const std::string& gid, const std::string& user, const std::string& by) {
    delete_member_.bind(1, gid).bind(2, user).run();
    if (db_.changes() != 1) return false;
    tag_actor_.bind_or_null(1, by).bind(2, gid).bind(3, user).run();
    record_change_.bind(1, user).run();
    return true;
}

void Groups::record_event(const std::string& gid, const std::string& user, const char* change, const std::string& by,
                          const std::string& detail, int64_t now_ms) {
    insert_event_.bind(1, gid).bind(2, user).bind(3, change).bind(4, now_ms).bind_or_null(5, by).bind_or_null(6, detail).run();
}

bool Groups::set_admin(const std::string& gid, const std::string& user, bool admin, const std::string& by,
                       int64_t now_ms) {
    if (!admin && is_admin(gid, user)) {
        ResetOnExit r(count_admins_);
        count_admins_.bind(1, gid).step();
        if (count_admins_.int_at(0) <= 1) throw NotAllowed("a group keeps at least one admin");
    }
    set_admin_.bind(1, gid).bind(2, user).bind(3, int64_t{admin}).run();
    if (db_.changes() != 1) return false;
    record_event(gid, user, admin ? "promoted" : "demoted", by, "", now_ms);
    record_change_.bind(1, user).run();  // admin-only sending depends on it
    return true;
}

void Groups::update_settings(const std::string& gid, const GroupSettingsChange& c, const std::string& by,
                             int64_t now_ms) {
    auto text = [this](int i, const std::optional<std::string>& v) {
        v ? update_settings_.bind(i, *v) : update_settings_.bind_null(i);
    };
    auto flag = [this](int i, const std::optional<bool>& v) {
        v ? update_settings_.bind(i, int64_t{*v}) : update_settings_.bind_null(i);
    };
    update_settings_.bind(1, gid);
    text(2, c.name);
    text(3, c.description);
    text(4, c.avatar);
    flag(5, c.admins_only_send);
    flag(6, c.admins_only_edit);
    update_settings_.run();
    // The detail names the fields changed; a notice shows their values as they are when it is made.
    std::string detail;
    for (auto [set, field] : {std::pair{c.name.has_value(), "name"}, {c.description.has_value(), "description"},
                              {c.avatar.has_value(), "avatar"}, {c.admins_only_send.has_value(), "admins_only_send"},
                              {c.admins_only_edit.has_value(), "admins_only_edit"}}) {
        if (set) detail += (detail.empty() ? "" : ",") + std::string(field);
    }
    record_event(gid, by, "settings", by, detail, now_ms);
    if (c.admins_only_send) record_members_change_.bind(1, gid).run();  // who may post changed
}

std::vector<std::string> Groups::postable_groups_of(const std::string& user) {
    postable_.bind(1, user);
    return column_strings(postable_);
}

std::vector<GroupSummary> Groups::summaries_of(const std::string& user) {
    ResetOnExit r(summaries_);
    std::vector<GroupSummary> out;
    summaries_.bind(1, user);
    while (summaries_.step()) {
        out.push_back(GroupSummary{summaries_.text_at(0), summaries_.text_at(1), summaries_.int_at(2) != 0,
                                   summaries_.int_at(3)});
    }
    return out;
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
