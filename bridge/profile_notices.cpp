// ProfileNotices: the profile_events feed to b/fanout batches of `notice` entries.
#include "profile_notices.h"

#include "common/log.h"


#include "common/identity.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace chat::bridge {

ProfileNotices::ProfileNotices(storage::Database& db, Publisher& out, int chunk)
    : db_(db), out_(out), chunk_(chunk), fanout_(db), contacts_(db) {}

size_t ProfileNotices::emit(int limit) {
    int64_t cursor = fanout_.state("profile_events");
    auto events = fanout_.profile_events_after(cursor, limit);
    if (events.empty()) return 0;
    size_t sent = 0;
    for (const auto& ev : events) {
        Entry notice;
        notice.kind = "notice";
        // Derived from the event, so a retry names the notice identically (stored once).
        notice.id = format_message_id(ev.ts, static_cast<uint32_t>(ev.id & 0xffffffffLL));
        notice.from = ev.user;
        notice.ts = ev.ts;
        notice.body = nlohmann::json{{"profile", ev.user}}.dump();
        auto contacts = contacts_.of(ev.user);
        for (size_t i = 0; i < contacts.size(); i += static_cast<size_t>(chunk_)) {
            auto end = std::min(contacts.size(), i + static_cast<size_t>(chunk_));
            std::vector<std::string> to(contacts.begin() + static_cast<long>(i), contacts.begin() + static_cast<long>(end));
            out_.fanout(notice, to, false);
        }
        sent += contacts.size();
    }
    auto acks = out_.flush();
    if (acks == Acks::missing) return 0;  // the next sweep sends them again
    if (acks == Acks::refused) log::log(log::Level::warning, "profile_notice_refused");
    storage::Transaction tx(db_);
    // Another bridge may have moved the cursor further meanwhile; never move it back.
    if (fanout_.state("profile_events") < events.back().id) fanout_.set_state("profile_events", events.back().id);
    tx.commit();
    return acks == Acks::all ? sent : 0;
}

}  // namespace chat::bridge
