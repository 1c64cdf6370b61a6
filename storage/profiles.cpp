// Prepared statements over profiles, and the visibility rule.
#include "profiles.h"

namespace chat::storage {

bool is_visibility(const std::string& s) { return s == everyone || s == contacts_only || s == nobody; }

bool visible(const std::string& visibility, bool viewer_is_contact) {
    return visibility == everyone || (visibility == contacts_only && viewer_is_contact);
}

Profiles::Profiles(Database& db)
    : get_(db,
           "SELECT COALESCE(display_name, ''), COALESCE(about, ''), COALESCE(avatar, ''), name_visibility, "
           "about_visibility, avatar_visibility, last_seen_visibility, group_adds, updated_ms "
           "FROM profiles WHERE user_id = ?"),
      put_(db,
           "INSERT INTO profiles(user_id, display_name, about, avatar, name_visibility, about_visibility, "
           "avatar_visibility, last_seen_visibility, group_adds, updated_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT(user_id) DO UPDATE SET display_name = excluded.display_name, about = excluded.about, "
           "avatar = excluded.avatar, name_visibility = excluded.name_visibility, "
           "about_visibility = excluded.about_visibility, avatar_visibility = excluded.avatar_visibility, "
           "last_seen_visibility = excluded.last_seen_visibility, group_adds = excluded.group_adds, "
           "updated_ms = excluded.updated_ms"),
      record_event_(db, "INSERT INTO profile_events(user_id, ts) VALUES(?, ?)") {}

Profile Profiles::get(const std::string& user) {
    ResetOnExit r(get_);
    Profile p;
    if (!get_.bind(1, user).step()) return p;
    p.display_name = get_.text_at(0);
    p.about = get_.text_at(1);
    p.avatar = get_.text_at(2);
    p.name_visibility = get_.text_at(3);
    p.about_visibility = get_.text_at(4);
    p.avatar_visibility = get_.text_at(5);
    p.last_seen_visibility = get_.text_at(6);
    p.group_adds = get_.text_at(7);
    p.updated_ms = get_.int_at(8);
    return p;
}

void Profiles::put(const std::string& user, const Profile& p, int64_t now_ms) {
    auto before = get(user);
    bool shown_changed =
        before.display_name != p.display_name || before.about != p.about || before.avatar != p.avatar;
    put_.bind(1, user)
        .bind_or_null(2, p.display_name)
        .bind_or_null(3, p.about)
        .bind_or_null(4, p.avatar)
        .bind(5, p.name_visibility)
        .bind(6, p.about_visibility)
        .bind(7, p.avatar_visibility)
        .bind(8, p.last_seen_visibility)
        .bind(9, p.group_adds)
        .bind(10, now_ms)
        .run();
    if (shown_changed) record_event_.bind(1, user).bind(2, now_ms).run();
}

}  // namespace chat::storage
