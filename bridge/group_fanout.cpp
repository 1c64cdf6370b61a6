// GroupFanout: chunked fan-out of group messages and membership notices, one b/fanout batch
// per chunk, stored by the plugin.
#include "group_fanout.h"


#include "common/identity.h"
#include "common/status_outbox.h"
#include "common/log.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace chat::bridge {
namespace {

// Derived from the event id, so every bridge and every retry names a notice identically:
// inserts stay idempotent.
std::string notice_id(int64_t ts, int64_t event_id) {
    return format_message_id(ts, static_cast<uint32_t>(event_id & 0xffffffffLL));
}

constexpr int first_chunk = 16;

}  // namespace

GroupFanout::GroupFanout(storage::Database& db, Publisher& out, std::function<int64_t()> clock, int chunk)
    : db_(db), out_(out), clock_(std::move(clock)), chunk_(chunk), fanout_(db), lists_(db), blocks_(db),
      outbox_(db), policy_(db), groups_(db) {}

FanOutResult GroupFanout::fan_out(const Entry& message) {
    // The outbox row may still be on its way into SQLite: none yet means not done.
    // Done before (a redelivered g/ publish, or the catch-up got there first): nothing finished
    // here, so the bridge's count of finished fan-outs counts it once.
    if (outbox_.done(message.id).value_or(false)) return {0, false};
    Delivery sent;
    if (!(message.expires_ms && message.expires_ms <= clock_())) {
        sent = is_relay(message) ? relay(message) : deliver(message, message.gid, {});
        // Not all stored: the pending scan tries again, the plugin skips repeats.
        if (sent.acks == Acks::missing) return {0, false};
    }
    FanOutResult result{sent.acks == Acks::all ? sent.members : 0, false};
    members_sent_ += result.members;
    // The row must be in the database before it can be marked done. A live publish usually
    // outruns the plugin's import (up to its 25 ms interval): finish_delivered() marks it later,
    // so the next message does not wait behind this one's import.
    if (outbox_.done(message.id).has_value()) {
        result.finished = finish(message, sent.acks);
    } else {
        awaiting_row_.push_back(Awaiting{message, sent.acks, clock_()});
    }
    return result;
}

size_t GroupFanout::finish_delivered(int64_t now_ms) {
    constexpr int64_t give_up_ms = 2000;
    size_t finished = 0;
    while (!awaiting_row_.empty()) {
        const Awaiting& a = awaiting_row_.front();
        auto done = outbox_.done(a.message.id);
        if (!done && now_ms - a.since_ms < give_up_ms) break;  // rows come in their journal's order
        // Done meanwhile by another bridge's scan: counted there. Never came: the scan gets it.
        if (done && !*done && finish(a.message, a.acks)) ++finished;
        awaiting_row_.pop_front();
    }
    return finished;
}

GroupFanout::Delivery GroupFanout::relay(const Entry& message) {
    // The recipient's copy, as the plugin stores it on one node: no seq, no cid, no device.
    Entry copy = message;
    copy.seq = 0;
    copy.cid.clear();
    copy.device.clear();
    out_.fanout(copy, {message.to}, /*direct=*/true);
    return {out_.flush(), 1};
}

GroupFanout::Delivery GroupFanout::deliver(const Entry& message, const std::string& gid,
                                           const std::vector<std::string>& extra) {
    Entry copy = message;
    copy.to.clear();
    copy.cid.clear();
    copy.device.clear();
    copy.seq = 0;
    // A broadcast list's message and a status go to each member as their own entry (to = the
    // member); a status's audience is in its outbox record, its delete goes to whoever holds it.
    bool list = is_list_id(gid);
    bool status = gid == status_outbox_gid;
    std::vector<std::string> audience;
    if (status && copy.kind == "status" && !message.body.empty()) {  // empty: deleted before its fan-out
        auto record = parse_status_outbox_body(message.body);
        audience = std::move(record.audience);
        copy.body = std::move(record.body);
    }
    if (list || status) copy.gid.clear();
    auto next_chunk = [&](const std::string& after, int limit) {
        if (list) return lists_.reachable_members_after(message.from, gid, after, limit);
        if (!status) return fanout_.members_after(gid, after, limit);
        if (copy.kind == "delete") return fanout_.holders_after(message.ref, after, limit);
        auto from = std::upper_bound(audience.begin(), audience.end(), after);
        auto to = from + std::min<long>(limit, audience.end() - from);
        return std::vector<std::string>(from, to);
    };
    size_t sent = 0;
    std::string after;
    bool more_members = true;
    size_t extra_next = 0;
    // The first chunks are small so the broker starts delivering while later ones are stored:
    // the last member then waits for the writes, not for the writes plus the whole delivery.
    int chunk = std::min(chunk_, first_chunk);
    while (more_members || extra_next < extra.size()) {
        std::vector<std::string> members;
        if (more_members) {
            members = next_chunk(after, chunk);
            more_members = static_cast<int>(members.size()) == chunk;
            if (!members.empty()) after = members.back();
            // Blocks apply both ways to a status: neither side sees the other's.
            if (status && copy.kind == "status") {
                std::erase_if(members, [&](const std::string& m) {
                    return blocks_.is_blocked(m, message.from) || blocks_.is_blocked(message.from, m);
                });
            }
        } else {
            // Users no longer in the group (removed) still get the notice about it.
            auto end = std::min(extra.size(), extra_next + static_cast<size_t>(chunk));
            members.assign(extra.begin() + static_cast<long>(extra_next), extra.begin() + static_cast<long>(end));
            extra_next = end;
        }
        std::erase(members, message.from);
        // One batch per chunk, stored and expanded by the plugin, which skips members that
        // have the message already (a retry after a crash): the in-flight window counts chunks.
        if (!members.empty()) out_.fanout(copy, members, list || status);
        sent += members.size();
        chunk = std::min(chunk_, chunk * 2);
    }
    return {out_.flush(), sent};
}

std::string GroupFanout::notice_body(const std::string& gid, const std::string& actor,
                                     const std::vector<std::string>& added, const std::vector<std::string>& removed,
                                     const std::vector<std::string>& promoted, const std::vector<std::string>& demoted,
                                     const std::vector<std::string>& settings) {
    auto group = groups_.find(gid);
    nlohmann::json body = {{"group", gid}, {"added", added}, {"removed", removed}};
    body["by"] = actor.empty() ? nlohmann::json(nullptr) : nlohmann::json(actor);
    body["name"] = group ? nlohmann::json(group->name) : nlohmann::json(nullptr);
    if (!promoted.empty()) body["promoted"] = promoted;
    if (!demoted.empty()) body["demoted"] = demoted;
    if (!settings.empty() && group) {
        nlohmann::json changed = nlohmann::json::object();
        for (const auto& field : settings) {
            if (field == "name") changed["name"] = group->name;
            if (field == "description") changed["description"] = group->description;
            if (field == "avatar") changed["avatar"] = group->avatar;
            if (field == "admins_only_send") changed["admins_only_send"] = group->admins_only_send;
            if (field == "admins_only_edit") changed["admins_only_edit"] = group->admins_only_edit;
        }
        body["changed"] = changed;
    }
    return body.dump();
}

bool GroupFanout::finish(const Entry& message, Acks acks) {
    if (acks == Acks::refused) {
        log::log(log::Level::error, "fanout_refused", {{"message", message.id}, {"group", message.gid}});
        outbox_.mark_done(message.id);
        return true;
    }
    storage::Transaction tx(db_);
    if (message.kind == "delete") {
        policy_.redact(message.from, message.ref, message.from);
        policy_.redact_outbox(message.ref, message.from);
    }
    outbox_.mark_done(message.id);
    tx.commit();
    return true;
}

size_t GroupFanout::fan_out_pending(int64_t older_than_ms, int limit) {
    size_t finished = 0;
    for (const auto& message : outbox_.pending(limit)) {
        if (message.ts > older_than_ms) break;  // pending() is ordered by ts
        if (fan_out(message).finished) ++finished;
    }
    return finished;
}

size_t GroupFanout::catch_up(int64_t older_than_ms) {
    // Counting completions, not attempts: a message that stays pending ends the loop rather
    // than being tried again and again.
    size_t finished = 0;
    for (size_t pass; (pass = fan_out_pending(older_than_ms)) > 0;) finished += pass;
    return finished;
}

size_t GroupFanout::emit_notices(int limit) {
    int64_t cursor = fanout_.state("group_events");
    auto events = fanout_.group_events_after(cursor, limit);
    if (events.empty()) return 0;
    struct Change {
        std::vector<std::string> added, removed, promoted, demoted;
        std::vector<std::string> settings;  // fields changed
        int64_t last_id = 0;
        int64_t ts = 0;
    };
    // One notice per group and actor, so each names who did what.
    std::map<std::pair<std::string, std::string>, Change> by_group;
    for (const auto& ev : events) {
        auto& c = by_group[{ev.gid, ev.actor}];
        if (ev.change == "settings") {
            for (size_t start = 0; start < ev.detail.size();) {
                auto comma = std::min(ev.detail.find(',', start), ev.detail.size());
                c.settings.push_back(ev.detail.substr(start, comma - start));
                start = comma + 1;
            }
        } else {
            auto& list = ev.change == "added"      ? c.added
                         : ev.change == "removed"  ? c.removed
                         : ev.change == "promoted" ? c.promoted
                                                   : c.demoted;
            list.push_back(ev.user);
        }
        c.last_id = ev.id;
        c.ts = ev.ts;
    }
    size_t created = 0;
    bool all_stored = true;
    for (const auto& [key, change] : by_group) {
        const auto& [gid, actor] = key;
        Entry notice;
        notice.kind = "notice";
        notice.id = notice_id(change.ts, change.last_id);
        notice.from = gid;  // a server notice about the group, not a user's message
        notice.gid = gid;
        notice.ts = change.ts;
        notice.body = notice_body(gid, actor, change.added, change.removed, change.promoted, change.demoted,
                                  change.settings);
        auto sent = deliver(notice, gid, change.removed);
        if (sent.acks == Acks::refused) {
            // Sending it again would get the same answer: skipped.
            log::log(log::Level::error, "notice_refused", {{"notice", notice.id}, {"group", gid}});
        }
        all_stored = all_stored && sent.acks != Acks::missing;
        if (sent.acks == Acks::all) created += sent.members;
    }
    if (!all_stored) return created;  // the next sweep sends them again; the plugin skips repeats
    storage::Transaction tx(db_);
    // Another bridge may have moved the cursor further meanwhile; never move it back.
    if (fanout_.state("group_events") < events.back().id) fanout_.set_state("group_events", events.back().id);
    tx.commit();
    return created;
}

}  // namespace chat::bridge
