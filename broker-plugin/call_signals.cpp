// ChatBroker's call signalling: v/{to} publishes relayed live to the other party's devices,
// the callee's other devices hung up when one answers, rung-out calls turned into stored
// missed-call notices. Nothing of a signal (SDP, candidates) is ever stored.
#include "broker.h"

#include <nlohmann/json.hpp>

namespace chat::broker {
namespace {

// Where call signals reach a device: straight to its connection, no subscription needed.
std::string call_topic(const std::string& user) { return "u/" + user + "/v"; }

std::string hangup(const CallLeg& leg, const std::string& from, const std::string& reason, int64_t now) {
    nlohmann::json j = {{"type", "hangup"}, {"call", leg.call}, {"from", from}, {"reason", reason}, {"ts", now}};
    return j.dump();
}

}  // namespace

MessageResult ChatBroker::call_signal(const Session& s, std::string_view to, const std::string& payload) {
    CallSignal signal = parse_call_signal(payload);
    if (signal.type == "offer" && signal.body.contains("gid")) {
        const auto& gid = signal.body["gid"].get_ref<const std::string&>();
        const Permissions* perms = s.state ? s.state->perms.get() : nullptr;
        if (!perms || !perms->groups.contains(gid)) throw std::invalid_argument("a group call needs a group you are in");
    }
    int64_t now = clock_();
    CallDecision d = calls_.on_signal(s.user, s.device, std::string(to), signal, now);
    MessageResult r;
    if (!d.refused.empty()) {
        r.verdict = MessageResult::Verdict::deny;
        r.reason = d.refused;
        return r;
    }
    // The sender is stamped by the server, as for messages; the rest passes through unread.
    signal.body["from"] = s.user;
    signal.body["ts"] = now;
    if (signal.type == "offer") signal.body["media"] = d.leg.media;
    to_call_devices(d.to_user, d.to_device, {}, signal.body.dump(), r.extra);
    if (!d.others_reason.empty()) {
        to_call_devices(d.leg.callee, {}, d.except_device, hangup(d.leg, d.leg.callee, d.others_reason, now), r.extra);
    }
    if (signal.type == "offer" && connected_devices(d.leg.callee) == 0 && !bridge_clients_.empty()) {
        // Nobody to ring: a bridge pushes the callee's phone at once (not debounced like messages).
        const std::string& bridge = bridge_clients_[next_bridge_++ % bridge_clients_.size()];
        nlohmann::json ring = {{"pending", log_.pending(d.leg.callee)},
                               {"call", {{"id", d.leg.call}, {"from", d.leg.caller}, {"media", d.leg.media}}}};
        r.extra.push_back(DirectPublish{bridge, {"b/push/" + d.leg.callee, ring.dump()}});
    }
    if (d.missed) store_missed_call(d.leg, r.extra);
    return r;
}

void ChatBroker::to_call_devices(const std::string& user, const std::string& device, const std::string& except,
                                 const std::string& json, std::vector<DirectPublish>& out) const {
    auto it = users_.find(user);
    if (it == users_.end()) return;
    for (const auto& [name, key] : it->second.devices) {
        if ((!device.empty() && name != device) || name == except) continue;
        out.push_back(DirectPublish{user + "/" + name, {call_topic(user), json}});
    }
}

void ChatBroker::expire_calls(int64_t now) {
    for (const auto& leg : calls_.expire(now)) {
        if (!leg.answered_device.empty()) continue;  // a call that ran its longest: state dropped
        to_call_devices(leg.callee, {}, {}, hangup(leg, leg.caller, "timeout", now), publishes_);
        to_call_devices(leg.caller, leg.caller_device, {}, hangup(leg, leg.callee, "timeout", now), publishes_);
        store_missed_call(leg, publishes_);
    }
}

void ChatBroker::store_missed_call(const CallLeg& leg, std::vector<DirectPublish>& out) {
    Entry e;
    e.ts = clock_();
    e.id = ids_.next(e.ts);
    e.kind = "notice";
    e.from = leg.caller;
    e.to = leg.callee;
    nlohmann::json body = {{"call", leg.call}, {"media", leg.media}, {"missed", true}, {"started", leg.started_ms}};
    if (!leg.gid.empty()) body["group"] = leg.gid;
    e.body = body.dump();
    Entry callee_copy = e, caller_copy = e;
    storage::InboxLog::Batch batch(log_);
    bool callee_known = batch.add(leg.callee, callee_copy);
    batch.add(leg.caller, caller_copy);
    batch.commit();
    MessageResult live;
    if (callee_known) {
        out.push_back(DirectPublish{"", {"u/" + leg.callee + "/i", json_.write(callee_copy)}});
        add_live_extras(leg.callee, callee_copy, live);
    }
    out.push_back(DirectPublish{"", {"u/" + leg.caller + "/i", json_.write(caller_copy)}});
    add_live_extras(leg.caller, caller_copy, live);
    for (auto& p : live.extra) out.push_back(std::move(p));
}

}  // namespace chat::broker
