// "Contacts", defined once: two users are contacts when they share a group, or when a direct
// conversation between them is in the first one's stored history (either direction: a sent
// copy names its recipient). Used by profile visibility, "who can add me to groups" and notices.
#pragma once

#include "db.h"

#include <string>
#include <vector>

namespace chat::storage {

class Contacts {
public:
    explicit Contacts(Database& db);
    bool are_contacts(const std::string& user, const std::string& other);
    // Everyone who is a contact of `user` by the same rule, by user id.
    std::vector<std::string> of(const std::string& user);

private:
    Statement are_, of_;
};

}  // namespace chat::storage
