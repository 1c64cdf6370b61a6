// Per-user profile (display name, about text, avatar media id) and privacy settings: who sees
// each field and the last-seen time, and who may add the user to groups.
#pragma once

#include "db.h"

#include <string>

namespace chat::storage {

// Values of every visibility setting and of group_adds.
inline constexpr const char* everyone = "everyone";
inline constexpr const char* contacts_only = "contacts";
inline constexpr const char* nobody = "nobody";
bool is_visibility(const std::string& s);
// Whether a field with `visibility` is shown to a viewer (not the owner, not blocked by them).
bool visible(const std::string& visibility, bool viewer_is_contact);

struct Profile {
    std::string display_name, about, avatar;  // empty: not set
    std::string name_visibility = everyone, about_visibility = everyone, avatar_visibility = everyone,
                last_seen_visibility = everyone, group_adds = everyone;
    int64_t updated_ms = 0;
};

class Profiles {
public:
    explicit Profiles(Database& db);
    // The stored profile, or the defaults for a user without one.
    Profile get(const std::string& user);
    // Stores the profile; a change of the name, about text or avatar also lands in the
    // profile_events feed (the bridge tells the user's contacts). Call in a Transaction.
    void put(const std::string& user, const Profile& p, int64_t now_ms);

private:
    Statement get_, put_, record_event_;
};

}  // namespace chat::storage
