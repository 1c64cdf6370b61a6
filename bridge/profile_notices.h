// Profile change notices: each change in the profile_events feed (a user's name, about text or
// avatar) becomes a `notice` {"profile": user} stored for each of that user's contacts, who then
// fetch what they may see (GET /v1/users/{user}/profile): the notice itself carries no field,
// so no visibility setting is bypassed. One instance per thread (its prepared statements).
#pragma once

#include "publisher.h"

#include "storage/contacts.h"
#include "storage/db.h"
#include "storage/fanout.h"

namespace chat::bridge {

class ProfileNotices {
public:
    ProfileNotices(storage::Database& db, Publisher& out, int chunk = 100);
    // Sends the notices for new profile changes; returns the copies stored. The cursor moves
    // only once every batch was answered, so a lost batch is sent again (the plugin skips
    // users who have the notice already).
    size_t emit(int limit = 1000);

private:
    storage::Database& db_;
    Publisher& out_;
    int chunk_;
    storage::Fanout fanout_;
    storage::Contacts contacts_;
};

}  // namespace chat::bridge
