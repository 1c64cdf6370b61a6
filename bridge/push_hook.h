// The push hook. For a signal that an entry reached a user none of whose devices is connected,
// it sends one notification per device that registered a push token to a push gateway, in the
// shape of the Matrix push gateway API (POST {gateway}/_matrix/push/v1/notify, counts only, no
// content), debounced per device; when no device has a token it falls back to the user-level
// hook ({"user","pending"} to --push-url), debounced per user. Both windows are claimed in
// storage, so several bridges push once between them. A muted conversation pushes nothing.
// Decisions run on the bridge's live thread (storage only, never the network); HTTP runs on
// the hook's own thread, which hands the pushkeys the gateway rejected back to the live thread.
// An incoming call rings at once, outside every debounce window.
#pragma once

#include "metrics/registry.h"

#include "storage/conversations.h"
#include "storage/db.h"
#include "storage/fanout.h"
#include "storage/push_tokens.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace httplib {
class Client;
}

namespace chat::bridge {

struct PushOptions {
    std::string user_url;     // the user-level hook; empty: none
    std::string gateway_url;  // scheme://host:port of a Matrix push gateway; empty: no per-device pushes
    int64_t debounce_ms = 60'000;
};

// What the plugin's b/push/{user} signal says.
struct PushSignal {
    std::string user;
    int64_t pending = 0;       // entries the user's devices have not acked
    std::string conversation;  // the entry's group id or other user; empty when unknown
};

// The JSON body of one Matrix push gateway notification for one device (PROTOCOL.md "Push").
// A call's notification also carries {"call":{"id","from","media"}} in the device's data.
std::string gateway_notification(const storage::PushTarget& device, int64_t unread, const std::string& prio,
                                 const nlohmann::json& call = nullptr);

class PushHook {
public:
    // `db` is the live thread's connection; the hook keeps prepared statements on it. `sent` and
    // `failed` count the POSTs (the bridge's metrics).
    PushHook(PushOptions options, std::function<int64_t()> clock, storage::Database& db, metrics::Counter& sent,
             metrics::Counter& failed);
    ~PushHook();
    PushHook(const PushHook&) = delete;
    PushHook& operator=(const PushHook&) = delete;

    // Live thread: queues what the signal calls for; returns the notifications queued (0 when
    // muted, within the debounce windows, or with nowhere to send).
    size_t on_signal(const PushSignal& signal);
    // Live thread: an incoming call for a user with no connected device rings every device
    // with a token (or the user-level hook) now, whatever the debounce windows of messages say.
    size_t ring(const PushSignal& signal, const nlohmann::json& call);
    // Live thread: forgets the pushkeys the gateway rejected since the last call; returns how many rows went.
    int64_t drop_rejected();

private:
    enum class Target { user_hook, gateway };
    struct Job {
        Target target = Target::user_hook;
        std::string user;  // for the log
        std::string body;
    };
    // The single way onto the worker.
    void enqueue(Job job);
    size_t push_devices(const PushSignal& signal, const std::vector<storage::PushTarget>& devices);
    size_t push_user(const PushSignal& signal);
    void run();
    void serve(std::optional<httplib::Client>& user_hook, std::optional<httplib::Client>& gateway);
    void post(httplib::Client& client, const std::string& path, const Job& job);

    PushOptions options_;
    std::string user_origin_, user_path_;
    std::function<int64_t()> clock_;
    // Live thread only.
    storage::PushClaims user_claims_;
    storage::PushTokens tokens_;
    storage::Conversations conversations_;
    std::unordered_map<std::string, int64_t> last_user_push_;  // a burst of signals costs one claim

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> queue_;
    std::vector<std::string> rejected_;
    metrics::Counter& sent_;
    metrics::Counter& failed_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace chat::bridge
