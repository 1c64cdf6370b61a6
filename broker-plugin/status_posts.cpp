// ChatBroker's status updates: st/{self} publishes stored once for the poster with one outbox
// record naming the audience, which a bridge fans out as one `status` entry per member
// (docs/PROTOCOL.md, "Status updates"); entries expire after the status lifetime.
#include "broker.h"

#include "common/base64.h"
#include "common/identity.h"
#include "common/status_outbox.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace chat::broker {
namespace {

constexpr size_t max_audience = 1024;

// {"to":[users],"body":"..."} or {"to":[...],"body64":"..."}: the audience (sorted, unique,
// without the poster) and the opaque body.
std::pair<std::vector<std::string>, std::string> status_payload(const std::string& payload, const std::string& poster) {
    const char* bad = "expected JSON {\"to\":[users],\"body\":text} or {\"to\":[users],\"body64\":base64}";
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (!j.is_object() || !j.contains("to") || !j["to"].is_array()) throw std::invalid_argument(bad);
    std::vector<std::string> audience;
    for (const auto& u : j["to"]) {
        if (!u.is_string() || !is_user_id(u.get_ref<const std::string&>())) throw std::invalid_argument(bad);
        if (u != poster) audience.push_back(u.get<std::string>());
    }
    std::sort(audience.begin(), audience.end());
    audience.erase(std::unique(audience.begin(), audience.end()), audience.end());
    if (audience.empty() || audience.size() > max_audience) {
        throw std::invalid_argument("a status names 1 to 1024 users besides the poster");
    }
    std::string body;
    if (j.contains("body") && j["body"].is_string()) {
        body = j["body"].get<std::string>();
    } else if (j.contains("body64") && j["body64"].is_string()) {
        auto decoded = from_base64(j["body64"].get<std::string>());
        if (!decoded) throw std::invalid_argument("status body64 is not base64");
        body = std::move(*decoded);
    } else {
        throw std::invalid_argument(bad);
    }
    return {std::move(audience), std::move(body)};
}

}  // namespace

MessageResult ChatBroker::status_post(const Session& s, const std::string& payload, const UserProperties& props) {
    Entry e = new_entry(s, {}, props);
    if (e.kind == "delete") {
        // The poster takes a status back early: each holder's copy loses its body.
        auto original = log_.find_by_id(s.user, e.ref);
        if (!original || original->kind != "status" || original->from != s.user) {
            throw std::invalid_argument("a status delete must name one of your own statuses");
        }
        e.expires_ms = original->expires_ms;
    } else {
        if (e.kind != "msg") throw std::invalid_argument("a status has no kind but delete");
        auto [audience, body] = status_payload(payload, s.user);
        if (config_.max_pending > 0 && policy_.audience_at_cap(s.user, audience, config_.max_pending)) {
            MessageResult refused;
            refused.verdict = MessageResult::Verdict::deny;
            refused.reason = "a member of the audience has too many undelivered messages";
            refused.refusal = Refusal::pending_cap;
            return refused;
        }
        e.kind = "status";
        e.body = std::move(body);
        e.expires_ms = e.ts + config_.status_lifetime_ms;
        e.cid.clear();
        Entry own = e;
        Entry shared = e;
        // The outbox record carries the audience for the fan-out; members get only the body.
        shared.body = status_outbox_body(audience, e.body);
        shared.gid = status_outbox_gid;
        storage::InboxLog::Batch batch(log_);
        batch.add(s.user, own);
        batch.add_outbox(shared);
        batch.commit();
        MessageResult r;
        r.verdict = MessageResult::Verdict::rewrite;
        r.rewritten = Publish{"st/" + s.user, json_.write(shared)};
        r.extra = copies_to_own_devices(s, own);
        return r;
    }
    e.gid = status_outbox_gid;
    e.cid.clear();
    storage::InboxLog::Batch batch(log_);
    batch.add_redaction(s.user, e.ref, s.user);
    batch.add_outbox(e);
    batch.commit();
    MessageResult r;
    r.verdict = MessageResult::Verdict::rewrite;
    r.rewritten = Publish{"st/" + s.user, json_.write(e)};
    return r;
}

}  // namespace chat::broker
