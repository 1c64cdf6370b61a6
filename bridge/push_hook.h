// The push hook: POSTs {"user":U,"pending":N} to a URL when an entry lands for a user with
// no connected device, at most once per user per debounce window across all bridges (the
// window is claimed in storage). due() and notify() are called from the bridge's live thread
// and never block on the network: HTTP runs on the hook's own thread.
#pragma once

#include "metrics/registry.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

namespace httplib {
class Client;
}

namespace chat::bridge {

class PushHook {
public:
    // Claims a user's push for a window, or returns when some bridge last pushed them
    // (storage::PushClaims::claim).
    using Claim = std::function<std::optional<int64_t>(const std::string& user, int64_t now_ms, int64_t window_ms)>;

    // `sent` and `failed` count the POSTs (the bridge's metrics).
    PushHook(std::string url, int64_t debounce_ms, std::function<int64_t()> clock, Claim claim,
             metrics::Counter& sent, metrics::Counter& failed);
    ~PushHook();
    PushHook(const PushHook&) = delete;
    PushHook& operator=(const PushHook&) = delete;

    // True when no bridge pushed `user` within the window; this bridge then has the window.
    bool due(const std::string& user);
    // Queues a POST for `user`; call after due() returned true.
    void notify(const std::string& user, int64_t pending);
    // Queues a POST for an incoming call at once, outside the debounce window (a ringing phone
    // cannot wait for it): {"user","pending","call":{"id","from","media"}}.
    void ring(const std::string& user, int64_t pending, const nlohmann::json& call);

private:
    void run();
    void serve(httplib::Client& client);
    std::string scheme_host_port_;
    std::string path_;
    int64_t debounce_ms_;
    std::function<int64_t()> clock_;
    Claim claim_;
    // Live thread only: the last push known here, so a burst of signals costs one claim.
    std::unordered_map<std::string, int64_t> last_push_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::string, std::string>> queue_;  // user, JSON body
    metrics::Counter& sent_;
    metrics::Counter& failed_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace chat::bridge
