// CallTable: the live state of ringing and running calls (who called from which device, which
// callee device answered), bounded in count and in time, and the routing rules of v/{to} call
// signals (docs/PROTOCOL.md, "Calls"). It never sees storage and keeps no SDP or candidates:
// signal bodies pass through ChatBroker untouched. Broker thread only.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chat::broker {

// A parsed v/{to} publish: a JSON object with at least "type" and "call".
struct CallSignal {
    std::string type;     // offer, answer, ice, ringing, reject, busy, hangup
    std::string call;     // the caller's call id, [A-Za-z0-9_-]{1,64}
    nlohmann::json body;  // the whole object, passed on with "from" stamped
};

// Throws std::invalid_argument naming what is wrong.
CallSignal parse_call_signal(const std::string& payload);

// One call between a caller and a callee (a group call is one leg per pair of participants).
struct CallLeg {
    std::string caller, caller_device, callee;
    std::string call;
    std::string media;            // voice or video
    std::string gid;              // set for a leg of a group call
    std::string answered_device;  // the callee device that answered; empty while ringing
    int64_t started_ms = 0;
    int64_t deadline_ms = 0;      // ring timeout while ringing, the longest call once answered
};

// What to do with one signal: refuse it, or pass it to `to_user` (one device, or all of them
// when `to_device` is empty) and hang up the callee's other devices with `others_reason`.
struct CallDecision {
    std::string refused;        // non-empty: refuse the publish, for this reason
    std::string to_user;
    std::string to_device;
    std::string others_reason;  // e.g. answered_elsewhere; empty: the other devices hear nothing
    std::string except_device;  // the callee device the others exclude
    bool missed = false;        // the call ended unanswered: both sides get a missed-call notice
    CallLeg leg;                // the call as it stands after the signal
};

struct CallLimits {
    size_t max_calls = 10000;            // legs held at once, ringing or running
    size_t max_calls_per_user = 32;      // legs one caller starts at once (a group call's mesh)
    int64_t ring_timeout_ms = 45'000;    // unanswered for this long: a missed call
    int64_t max_call_ms = 4 * 3'600'000; // an answered call's state is kept this long
};

class CallTable {
public:
    explicit CallTable(CallLimits limits) : limits_(limits) {}

    // `user`'s device `device` sends `signal` to `to` at `now_ms`.
    CallDecision on_signal(const std::string& user, const std::string& device, const std::string& to,
                           const CallSignal& signal, int64_t now_ms);
    // Removes and returns the legs whose deadline has passed: unanswered ones are missed calls.
    std::vector<CallLeg> expire(int64_t now_ms);
    size_t size() const { return legs_.size(); }

private:
    using Key = std::string;  // caller, callee and call id
    static Key key_of(const std::string& caller, const std::string& callee, const std::string& call);
    CallDecision offer(const std::string& user, const std::string& device, const std::string& to,
                       const CallSignal& signal, int64_t now_ms);
    CallDecision from_caller(const Key& key, CallLeg& leg, const std::string& type);
    CallDecision from_callee(const Key& key, CallLeg& leg, const std::string& device, const std::string& type,
                             int64_t now_ms);
    void set_deadline(const Key& key, CallLeg& leg, int64_t deadline_ms);
    CallLeg remove(const Key& key);

    CallLimits limits_;
    std::unordered_map<Key, CallLeg> legs_;
    std::set<std::pair<int64_t, Key>> deadlines_;        // every leg once, by its deadline
    std::unordered_map<std::string, size_t> per_caller_;  // legs each caller holds
};

}  // namespace chat::broker
