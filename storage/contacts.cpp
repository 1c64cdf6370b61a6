// The contacts query over group_members and the inbox.
#include "contacts.h"

namespace chat::storage {

Contacts::Contacts(Database& db)
    : are_(db,
           "SELECT 1 WHERE EXISTS(SELECT 1 FROM group_members a JOIN group_members b ON b.gid = a.gid "
           "WHERE a.user_id = ?1 AND b.user_id = ?2) OR EXISTS(SELECT 1 FROM inbox WHERE user_id = ?1 "
           "AND gid IS NULL AND (from_user = ?2 OR to_user = ?2))") {}

bool Contacts::are_contacts(const std::string& user, const std::string& other) {
    if (user == other) return true;
    ResetOnExit r(are_);
    return are_.bind(1, user).bind(2, other).step();
}

}  // namespace chat::storage
