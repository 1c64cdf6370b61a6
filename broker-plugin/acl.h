// Topic permissions as pure functions of who asks and what they may touch (PROTOCOL.md).
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

namespace chat::broker {

enum class Access { subscribe, write, read };

// What a user may do beyond their own topics; compiled from storage at CONNECT
// and refreshed when the user's groups, blocks or broadcast lists change.
struct Permissions {
    std::unordered_set<std::string> groups;      // groups the user may post to (member; admin where admins only send)
    std::unordered_set<std::string> blocked_by;  // users who blocked this user
    std::unordered_set<std::string> lists;       // broadcast lists the user owns
};

struct Principal {
    std::string_view user;
    std::string_view device;
    bool bridge = false;
    const Permissions* perms = nullptr;
    bool sys_operator = false;  // the operator identity: reads $SYS/# only
};

bool allowed(const Principal& who, Access access, std::string_view topic);
// Whether `topic` is m/, r/ or t/ of a user who blocked `who` (why a publish was refused).
bool is_blocked(const Principal& who, std::string_view topic);

}  // namespace chat::broker
