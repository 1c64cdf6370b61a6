// The contacts query over group_members and the inbox.
#include "contacts.h"

namespace chat::storage {

Contacts::Contacts(Database& db)
    : are_(db,
           "SELECT 1 WHERE EXISTS(SELECT 1 FROM group_members a JOIN group_members b ON b.gid = a.gid "
           "WHERE a.user_id = ?1 AND b.user_id = ?2) OR EXISTS(SELECT 1 FROM inbox WHERE user_id = ?1 "
           "AND gid IS NULL AND (from_user = ?2 OR to_user = ?2))"),
      of_(db,
          "SELECT b.user_id FROM group_members a JOIN group_members b ON b.gid = a.gid "
          "WHERE a.user_id = ?1 AND b.user_id != ?1 "
          "UNION SELECT from_user FROM inbox WHERE user_id = ?1 AND gid IS NULL AND from_user != ?1 "
          "UNION SELECT to_user FROM inbox WHERE user_id = ?1 AND gid IS NULL AND to_user IS NOT NULL "
          "AND to_user != ?1 ORDER BY 1") {}

bool Contacts::are_contacts(const std::string& user, const std::string& other) {
    if (user == other) return true;
    ResetOnExit r(are_);
    return are_.bind(1, user).bind(2, other).step();
}

std::vector<std::string> Contacts::of(const std::string& user) {
    ResetOnExit r(of_);
    std::vector<std::string> out;
    of_.bind(1, user);
    while (of_.step()) out.push_back(of_.text_at(0));
    return out;
}

}  // namespace chat::storage
