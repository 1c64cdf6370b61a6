// Broadcast lists: a user's named lists of recipients (sidecar CRUD), the list ids the broker
// lets their owner publish to, and the members the bridge fans a list message out to. Every
// change of a user's lists records the owner in acl_changes, so the broker picks it up.
// Like every storage class, one instance belongs to one thread's Database.
#pragma once

#include "db.h"

#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct BroadcastList {
    std::string id;
    std::string name;
    std::vector<std::string> members;
};

class BroadcastLists {
public:
    explicit BroadcastLists(Database& db);

    // Call in a Transaction. Throws ConstraintError when the id is taken.
    void create(const std::string& owner, const std::string& list, const std::string& name,
                const std::vector<std::string>& members, int64_t now_ms);
    std::optional<BroadcastList> find(const std::string& owner, const std::string& list);
    std::vector<BroadcastList> lists_of(const std::string& owner);
    // The ids of `owner`'s lists (the broker's permission to publish to l/{list}).
    std::vector<std::string> ids_of(const std::string& owner);
    bool exists(const std::string& list);
    // Call in a Transaction; false when nothing changed.
    bool remove(const std::string& owner, const std::string& list);
    bool add_member(const std::string& owner, const std::string& list, const std::string& member);
    bool remove_member(const std::string& owner, const std::string& list, const std::string& member);
    // Up to `limit` members of `owner`'s list sorting after `after` who have not blocked the
    // owner (chunked fan-out; a blocker is skipped, not told).
    std::vector<std::string> reachable_members_after(const std::string& owner, const std::string& list,
                                                     const std::string& after, int limit);

private:
    Database& db_;
    Statement insert_list_, find_list_, list_members_, lists_of_, ids_of_, exists_, delete_list_, delete_members_,
        insert_member_, delete_member_, reachable_, record_change_;
};

}  // namespace chat::storage
