// CallTable: parsing of call signals and the first-answer-wins state of each call leg.
#include "calls.h"

#include <stdexcept>

namespace chat::broker {
namespace {

bool is_call_id(const std::string& id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

bool is_signal_type(const std::string& t) {
    return t == "offer" || t == "answer" || t == "ice" || t == "ringing" || t == "reject" || t == "busy" ||
           t == "hangup";
}

CallDecision refuse(std::string reason) {
    CallDecision d;
    d.refused = std::move(reason);
    return d;
}

}  // namespace

CallSignal parse_call_signal(const std::string& payload) {
    auto body = nlohmann::json::parse(payload, nullptr, false);
    if (!body.is_object()) throw std::invalid_argument("a call signal is a JSON object");
    auto type = body.find("type");
    auto call = body.find("call");
    if (type == body.end() || !type->is_string() || !is_signal_type(type->get<std::string>())) {
        throw std::invalid_argument("call signal type must be offer, answer, ice, ringing, reject, busy or hangup");
    }
    if (call == body.end() || !call->is_string() || !is_call_id(call->get<std::string>())) {
        throw std::invalid_argument("call signal needs a call id of 1 to 64 letters, digits, - or _");
    }
    if (auto media = body.find("media"); media != body.end() && *media != "voice" && *media != "video") {
        throw std::invalid_argument("call media must be voice or video");
    }
    if (auto gid = body.find("gid"); gid != body.end() && !gid->is_string()) {
        throw std::invalid_argument("call gid must be a group id");
    }
    CallSignal s{type->get<std::string>(), call->get<std::string>(), {}};
    s.body = std::move(body);
    return s;
}

CallTable::Key CallTable::key_of(const std::string& caller, const std::string& callee, const std::string& call) {
    return caller + '/' + callee + '/' + call;
}

CallDecision CallTable::on_signal(const std::string& user, const std::string& device, const std::string& to,
                                  const CallSignal& signal, int64_t now_ms) {
    if (signal.type == "offer") return offer(user, device, to, signal, now_ms);
    // The sender is either the leg's caller or its callee; call ids are the caller's, so
    // two callers may use the same one.
    Key as_caller = key_of(user, to, signal.call);
    if (auto it = legs_.find(as_caller); it != legs_.end()) {
        if (it->second.caller_device != device) return refuse("call " + signal.call + " was placed from another device");
        return from_caller(as_caller, it->second, signal.type);
    }
    Key as_callee = key_of(to, user, signal.call);
    if (auto it = legs_.find(as_callee); it != legs_.end()) {
        return from_callee(as_callee, it->second, device, signal.type, now_ms);
    }
    return refuse("no call " + signal.call + " between " + user + " and " + to);
}

CallDecision CallTable::offer(const std::string& user, const std::string& device, const std::string& to,
                              const CallSignal& signal, int64_t now_ms) {
    Key key = key_of(user, to, signal.call);
    if (legs_.contains(key)) return refuse("call " + signal.call + " is already ringing or running");
    if (legs_.size() >= limits_.max_calls) return refuse("the server holds too many calls");
    size_t& mine = per_caller_[user];
    if (mine >= limits_.max_calls_per_user) return refuse(user + " has too many calls at once");
    ++mine;
    CallLeg leg;
    leg.caller = user;
    leg.caller_device = device;
    leg.callee = to;
    leg.call = signal.call;
    leg.media = signal.body.value("media", std::string("voice"));
    leg.gid = signal.body.value("gid", std::string());
    leg.started_ms = now_ms;
    auto& stored = legs_.emplace(key, std::move(leg)).first->second;
    set_deadline(key, stored, now_ms + limits_.ring_timeout_ms);
    CallDecision d;
    d.to_user = to;  // every device of the callee rings
    d.leg = stored;
    return d;
}

CallDecision CallTable::from_caller(const Key& key, CallLeg& leg, const std::string& type) {
    if (type != "ice" && type != "hangup") return refuse("only the callee sends " + type);
    CallDecision d;
    d.to_user = leg.callee;
    d.to_device = leg.answered_device;  // all of them while ringing
    d.leg = leg;
    if (type == "hangup") {
        d.missed = leg.answered_device.empty();  // the caller gave up before anyone answered
        remove(key);
    }
    return d;
}

CallDecision CallTable::from_callee(const Key& key, CallLeg& leg, const std::string& device, const std::string& type,
                                    int64_t now_ms) {
    bool answered = !leg.answered_device.empty();
    if (answered && leg.answered_device != device) return refuse("call " + leg.call + " was answered on another device");
    CallDecision d;
    d.to_user = leg.caller;
    d.to_device = leg.caller_device;
    if (type == "answer") {
        if (answered) return refuse("call " + leg.call + " is answered already");
        leg.answered_device = device;
        set_deadline(key, leg, now_ms + limits_.max_call_ms);
        d.others_reason = "answered_elsewhere";  // the first answer wins
        d.except_device = device;
    } else if (type == "reject" || type == "busy" || type == "hangup") {
        // A refusal on one device ends the ringing on all of them.
        if (!answered) {
            d.others_reason = type == "busy" ? "busy_elsewhere" : "rejected_elsewhere";
            d.except_device = device;
        }
        d.leg = remove(key);
        return d;
    } else if (type == "ringing" && answered) {
        return refuse("call " + leg.call + " is answered already");
    }
    d.leg = leg;
    return d;
}

void CallTable::set_deadline(const Key& key, CallLeg& leg, int64_t deadline_ms) {
    if (leg.deadline_ms) deadlines_.erase({leg.deadline_ms, key});
    leg.deadline_ms = deadline_ms;
    deadlines_.emplace(deadline_ms, key);
}

CallLeg CallTable::remove(const Key& key) {
    auto it = legs_.find(key);
    CallLeg leg = std::move(it->second);
    legs_.erase(it);
    deadlines_.erase({leg.deadline_ms, key});
    auto count = per_caller_.find(leg.caller);
    if (count != per_caller_.end() && --count->second == 0) per_caller_.erase(count);
    return leg;
}

std::vector<CallLeg> CallTable::expire(int64_t now_ms) {
    std::vector<CallLeg> ended;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
        Key key = deadlines_.begin()->second;
        ended.push_back(remove(key));
    }
    return ended;
}

}  // namespace chat::broker
