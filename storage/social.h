// Groups (members, admins), blocks, and the ACL change feed the broker plugin polls.
// Every membership or block change records the affected users in acl_changes, in the
// same transaction, so the broker refreshes exactly those users' permissions.
#pragma once

#include "contacts.h"
#include "db.h"
#include "profiles.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct GroupInfo {
    std::string id;
    std::string name;
    std::vector<std::string> members;
    std::vector<std::string> admins;
    std::string description, avatar;  // empty: not set
    bool admins_only_send = false;    // only admins may post
    bool admins_only_edit = true;     // only admins may change name, description, avatar
};

// A settings change; nullopt fields stay as they are.
struct GroupSettingsChange {
    std::optional<std::string> name, description, avatar;
    std::optional<bool> admins_only_send, admins_only_edit;
};

struct GroupSummary {
    std::string id;
    std::string name;
    bool admin = false;
    int64_t members = 0;
};

class Groups {
public:
    explicit Groups(Database& db);

    // Creates the group with `creator` as admin and member, plus `members`, added by the
    // creator (see add_member: throws NotAllowed). Call in a Transaction.
    void create(const std::string& gid, const std::string& name, const std::string& creator,
                const std::vector<std::string>& members, int64_t now_ms);
    std::optional<GroupInfo> find(const std::string& gid);
    // `by` adds `user`: true when added (false: already a member). Throws NotAllowed when
    // `user` blocked `by` (nobody you blocked can put you in a group, whichever front end they
    // use) or when `user`'s "who can add me to groups" (profiles.group_adds) excludes `by`;
    // Error for unknown users/groups. An empty `by` is the operator (chatctl group add), whom no
    // block or setting concerns. The change feed records `by` as the actor.
    bool add_member(const std::string& gid, const std::string& user, bool admin, const std::string& by);
    // `by` (empty: the operator) removes `user`, or `user` leaves when `by` == `user`.
    bool remove_member(const std::string& gid, const std::string& user, const std::string& by = "");
    // Promotes or demotes a member; false when nothing changed (not a member, or already so).
    // Throws NotAllowed when it would leave the group without an admin.
    bool set_admin(const std::string& gid, const std::string& user, bool admin, const std::string& by, int64_t now_ms);
    // Applies the change and records it, with its actor, in the change feed (one notice).
    void update_settings(const std::string& gid, const GroupSettingsChange& change, const std::string& by,
                         int64_t now_ms);
    // The groups `user` may post to: member, and admin where only admins may send (the broker's ACL).
    std::vector<std::string> postable_groups_of(const std::string& user);
    std::vector<GroupSummary> summaries_of(const std::string& user);
    // When the last admin has gone, a remaining member (the lowest user id) becomes admin,
    // so a group is never left without one. Returns the new admin, if any.
    std::optional<std::string> ensure_admin(const std::string& gid);
    bool is_member(const std::string& gid, const std::string& user);
    bool is_admin(const std::string& gid, const std::string& user);
    std::vector<std::string> members(const std::string& gid);
    std::vector<std::string> groups_of(const std::string& user);

private:
    Database& db_;
    void record_event(const std::string& gid, const std::string& user, const char* change, const std::string& by,
                      const std::string& detail, int64_t now_ms);
    Statement insert_group_, find_group_, insert_member_, delete_member_, member_flags_, list_members_, list_groups_,
        record_change_, has_admin_, promote_oldest_, blocked_, tag_actor_, set_admin_, count_admins_, insert_event_,
        update_settings_, record_members_change_, postable_, summaries_;
    Contacts contacts_;
    Profiles profiles_;
};

class Blocks {
public:
    explicit Blocks(Database& db);
    bool block(const std::string& blocker, const std::string& blocked);
    bool unblock(const std::string& blocker, const std::string& blocked);
    bool is_blocked(const std::string& blocker, const std::string& blocked);
    // Users who blocked `user`: whom `user` may not message or watch.
    std::vector<std::string> blockers_of(const std::string& user);

private:
    Database& db_;
    Statement insert_, delete_, exists_, blockers_, record_change_;
};

struct AclChangeBatch {
    std::vector<std::string> users;
    int64_t last_id = 0;
};

class AclChanges {
public:
    explicit AclChanges(Database& db);
    int64_t latest_id();
    AclChangeBatch since(int64_t id);

private:
    Statement latest_, since_;
};

}  // namespace chat::storage
