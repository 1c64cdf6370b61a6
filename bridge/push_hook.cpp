// PushHook: routing, mute and debounce on the caller's thread (storage claims), cpp-httplib
// clients on a worker thread.
#include "push_hook.h"

#include "common/log.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <stdexcept>
#include <tuple>

namespace chat::bridge {
namespace {

constexpr const char* gateway_path = "/_matrix/push/v1/notify";
// Beyond this many unsent notifications (a gateway down for long) new ones are dropped: a push
// is a hint, the entries themselves wait in the inbox.
constexpr size_t max_queued = 10'000;

// "scheme://host:port/path" -> {"scheme://host:port", "/path"}.
std::pair<std::string, std::string> split_url(const std::string& url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) throw std::invalid_argument("push URL needs a scheme: " + url);
    auto path_start = url.find('/', scheme_end + 3);
    return {url.substr(0, path_start), path_start == std::string::npos ? "/" : url.substr(path_start)};
}

std::optional<httplib::Client> client_for(const std::string& origin) {
    if (origin.empty()) return std::nullopt;
    std::optional<httplib::Client> c(std::in_place, origin);
    c->set_connection_timeout(2);
    c->set_read_timeout(5);
    return c;
}

}  // namespace

std::string gateway_notification(const storage::PushTarget& device, int64_t unread, const std::string& prio,
                                 const nlohmann::json& call) {
    nlohmann::json d = {{"app_id", device.app_id},
                        {"pushkey", device.pushkey},
                        {"pushkey_ts", device.registered_ms / 1000},
                        {"data", {{"provider", device.provider}}}};
    if (!call.is_null()) d["data"]["call"] = call;
    return nlohmann::json{{"notification", {{"devices", {d}}, {"counts", {{"unread", unread}}}, {"prio", prio}}}}.dump();
}

PushHook::PushHook(PushOptions options, std::function<int64_t()> clock, storage::Database& db, metrics::Counter& sent,
                   metrics::Counter& failed)
    : options_(std::move(options)), clock_(std::move(clock)), user_claims_(db), tokens_(db), conversations_(db),
      sent_(sent), failed_(failed) {
    if (!options_.user_url.empty()) std::tie(user_origin_, user_path_) = split_url(options_.user_url);
    if (!options_.gateway_url.empty()) split_url(options_.gateway_url);  // refuse a bad one at start
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

size_t PushHook::on_signal(const PushSignal& signal) {
    if (!signal.conversation.empty() && conversations_.is_muted(signal.user, signal.conversation)) return 0;
    if (!options_.gateway_url.empty()) {
        auto devices = tokens_.targets(signal.user);
        if (!devices.empty()) return push_devices(signal, devices);
    }
    return push_user(signal);
}

size_t PushHook::push_devices(const PushSignal& signal, const std::vector<storage::PushTarget>& devices) {
    size_t queued = 0;
    int64_t now = clock_();
    for (const auto& d : devices) {
        if (!tokens_.claim(signal.user, d.device, now, options_.debounce_ms)) continue;
        enqueue(Job{Target::gateway, signal.user, gateway_notification(d, signal.pending, "high")});
        ++queued;
    }
    return queued;
}

size_t PushHook::push_user(const PushSignal& signal) {
    if (options_.user_url.empty()) return 0;
    int64_t now = clock_();
    auto known = last_user_push_.find(signal.user);
    if (known != last_user_push_.end() && now - known->second < options_.debounce_ms) return 0;
    auto earlier = user_claims_.claim(signal.user, now, options_.debounce_ms);
    last_user_push_[signal.user] = earlier.value_or(now);
    if (earlier) return 0;
    // The plugin counts from memory: SQLite may not have the entry yet.
    enqueue(Job{Target::user_hook, signal.user,
                nlohmann::json{{"user", signal.user}, {"pending", signal.pending}}.dump()});
    return 1;
}

size_t PushHook::ring(const PushSignal& signal, const nlohmann::json& call) {
    if (!options_.gateway_url.empty()) {
        auto devices = tokens_.targets(signal.user);
        for (const auto& d : devices) {
            enqueue(Job{Target::gateway, signal.user, gateway_notification(d, signal.pending, "high", call)});
        }
        if (!devices.empty()) return devices.size();
    }
    if (options_.user_url.empty()) return 0;
    enqueue(Job{Target::user_hook, signal.user,
                nlohmann::json{{"user", signal.user}, {"pending", signal.pending}, {"call", call}}.dump()});
    return 1;
}

int64_t PushHook::drop_rejected() {
    std::vector<std::string> keys;
    {
        std::lock_guard lock(mu_);
        keys.swap(rejected_);
    }
    int64_t dropped = 0;
    for (const auto& k : keys) dropped += tokens_.reject(k);
    return dropped;
}

void PushHook::enqueue(Job job) {
    {
        std::lock_guard lock(mu_);
        if (queue_.size() >= max_queued) {
            log::log(log::Level::warning, "push_queue_full", {{"user", job.user}});
            return;
        }
        queue_.push_back(std::move(job));
    }
    cv_.notify_one();
}

void PushHook::run() {
    // No exception may leave this thread: a failure (even building a client) is logged; the
    // job at hand is dropped (the next signal pushes again) and the loop goes on.
    for (;;) {
        try {
            auto user_hook = client_for(user_origin_);
            auto gateway = client_for(options_.gateway_url.empty() ? "" : split_url(options_.gateway_url).first);
            serve(user_hook, gateway);
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

void PushHook::serve(std::optional<httplib::Client>& user_hook, std::optional<httplib::Client>& gateway) {
    while (true) {
        Job job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        if (job.target == Target::gateway && gateway) post(*gateway, gateway_path, job);
        if (job.target == Target::user_hook && user_hook) post(*user_hook, user_path_, job);
    }
}

void PushHook::post(httplib::Client& client, const std::string& path, const Job& job) {
    auto res = client.Post(path, job.body, "application/json");
    if (!res || res->status >= 300) {
        log::log(log::Level::warning, "push_failed",
                 {{"user", job.user}, {"error", res ? std::to_string(res->status) : httplib::to_string(res.error())}});
        failed_.inc();
        return;
    }
    std::vector<std::string> rejected;
    if (job.target == Target::gateway) {
        // {"rejected":[pushkey...]}: tokens the provider no longer knows (app uninstalled).
        auto answer = nlohmann::json::parse(res->body, nullptr, false);
        if (answer.is_object() && answer.contains("rejected") && answer["rejected"].is_array()) {
            for (const auto& k : answer["rejected"]) {
                if (k.is_string()) rejected.push_back(k.get<std::string>());
            }
        }
    }
    sent_.inc();
    std::lock_guard lock(mu_);
    rejected_.insert(rejected_.end(), rejected.begin(), rejected.end());
}

}  // namespace chat::bridge
