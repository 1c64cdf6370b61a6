// PushHook: debounce on the caller's thread (a map, then a claim in storage), cpp-httplib
// client on a worker thread.
#include "push_hook.h"

#include "common/log.h"

#include <httplib.h>

#include <chrono>
#include <stdexcept>

namespace chat::bridge {

PushHook::PushHook(std::string url, int64_t debounce_ms, std::function<int64_t()> clock, Claim claim,
                   metrics::Counter& sent, metrics::Counter& failed)
    : debounce_ms_(debounce_ms), clock_(std::move(clock)), claim_(std::move(claim)), sent_(sent), failed_(failed) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) throw std::invalid_argument("push URL needs a scheme: " + url);
    auto path_start = url.find('/', scheme_end + 3);
    scheme_host_port_ = url.substr(0, path_start);
    path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
    worker_ = std::thread([this] { run(); });
}

PushHook::~PushHook() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
}

bool PushHook::due(const std::string& user) {
    int64_t now = clock_();
    auto known = last_push_.find(user);
    if (known != last_push_.end() && now - known->second < debounce_ms_) return false;
    auto earlier = claim_(user, now, debounce_ms_);
    last_push_[user] = earlier.value_or(now);
    return !earlier;
}

void PushHook::notify(const std::string& user, int64_t pending) {
    {
        std::lock_guard lock(mu_);
        queue_.emplace_back(user, nlohmann::json{{"user", user}, {"pending", pending}}.dump());
    }
    cv_.notify_one();
}

void PushHook::ring(const std::string& user, int64_t pending, const nlohmann::json& call) {
    {
        std::lock_guard lock(mu_);
        queue_.emplace_back(user, nlohmann::json{{"user", user}, {"pending", pending}, {"call", call}}.dump());
    }
    cv_.notify_one();
}

void PushHook::run() {
    // No exception may leave this thread: a failure (even building the client) is logged; the
    // job at hand is dropped (the next signal for that user pushes again) and the loop goes on.
    for (;;) {
        try {
            httplib::Client client(scheme_host_port_);
            client.set_connection_timeout(2);
            client.set_read_timeout(5);
            serve(client);
            return;  // stopping
        } catch (const std::exception& e) {
            log::log(log::Level::error, "push_hook_failed", {{"error", e.what()}});
        } catch (...) {
            log::log(log::Level::error, "push_hook_failed");
        }
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
    }
}

void PushHook::serve(httplib::Client& client) {
    while (true) {
        std::pair<std::string, std::string> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        auto res = client.Post(path_, job.second, "application/json");
        if (!res || res->status >= 300) {
            log::log(log::Level::warning, "push_failed",
                     {{"user", job.first}, {"error", res ? std::to_string(res->status) : httplib::to_string(res.error())}});
            failed_.inc();
            continue;
        }
        sent_.inc();
    }
}

}  // namespace chat::bridge
