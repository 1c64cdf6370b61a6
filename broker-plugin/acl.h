// Topic permissions as pure functions of who asks and what they may touch (PROTOCOL.md).
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

namespace chat::broker {

enum class Access { subscribe, write, read };

// What a user may do beyond their own topics; compiled from storage at CONNECT
// and refreshed when the user's groups or blocks change.
struct Permissions {
    std::unordered_set<std::string> groups;      // groups the user may post to (member; admin where admins only send)
    std::unordered_set<std::string> blocked_by;  // users who blocked this user
};

struct Principal {
    std::string_view user;
    std::string_view device;
    bool bridge = false;
    const Permissions* perms = nullptr;
};

bool allowed(const Principal& who, Access access, std::string_view topic);

}  // namespace chat::broker
