// The push hook: POSTs {"user":U,"pending":N} to a URL when an entry lands for a user with
// no connected device, at most once per user per debounce window. notify() is called from
// the bridge's live thread and never blocks on the network: HTTP runs on the hook's own thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace chat::bridge {

class PushHook {
public:
    PushHook(std::string url, int64_t debounce_ms, std::function<int64_t()> clock);
    ~PushHook();
    PushHook(const PushHook&) = delete;
    PushHook& operator=(const PushHook&) = delete;

    // True when `user` has not been pushed within the window (the caller then computes pending).
    bool due(const std::string& user);
    // Queues a POST for `user`; call after due() returned true.
    void notify(const std::string& user, int64_t pending);
    size_t sent() const;

private:
    void run();
    std::string scheme_host_port_;
    std::string path_;
    int64_t debounce_ms_;
    std::function<int64_t()> clock_;
    std::unordered_map<std::string, int64_t> last_push_;  // live thread only
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::string, int64_t>> queue_;
    size_t sent_ = 0;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace chat::bridge
