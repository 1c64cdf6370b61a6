// Bridge: Paho adapter, consume loop on the live thread, paged replay on the sync thread.
#include "bridge.h"

#include "expiry.h"
#include "group_fanout.h"
#include "nodelay.h"
#include "profile_notices.h"
#include "push_hook.h"
#include "receipts.h"
#include "sync_replay.h"

#include "common/identity.h"
#include "common/log.h"
#include "storage/backup.h"
#include "storage/fanout.h"

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include <vector>

namespace chat::bridge {
namespace {

constexpr int session_expiry_s = 7 * 86400;
// The last one delivers nothing (the plugin refuses the bridge every u/ entry): it only gives
// every inbox topic a subscriber, so a PUBACK does not tell whether the recipient is online.
const char* const filters[] = {"$share/bridge/g/+", "$share/bridge/k/+", "$share/bridge/s/+", "$share/bridge/u/+/i",
                               "$share/bridge/l/+", "$share/bridge/st/+"};

// Publishes QoS 1 without waiting; keeps the tokens so flush() can wait for the broker's
// acks, and waits by itself once `window` publishes are outstanding (bounded memory).
class PahoPublisher : public Publisher {
public:
    PahoPublisher(mqtt::async_client& client, std::function<int64_t()> clock, size_t window, BridgeMetrics& metrics)
        : client_(client), clock_(std::move(clock)), window_(window), metrics_(metrics) {}

    void publish(const std::string& topic, std::string payload, int64_t expires_ms) override {
        auto msg = mqtt::make_message(topic, std::move(payload), 1, false);
        if (expires_ms > 0) {
            int64_t left_s = std::max<int64_t>(1, (expires_ms - clock_() + 999) / 1000);
            mqtt::properties props;
            props.add(mqtt::property(mqtt::property::MESSAGE_EXPIRY_INTERVAL, static_cast<int>(left_s)));
            msg->set_properties(props);
        }
        pending_.push_back(client_.publish(msg));
        metrics_.batches_sent.inc();
        if (pending_.size() >= window_) earlier_ = worse(earlier_, wait_pending());
    }

    // Also reports publishes that an automatic wait (a full window) found unacknowledged.
    Acks flush() override {
        Acks acks = worse(wait_pending(), earlier_);
        earlier_ = Acks::all;
        return acks;
    }

private:
    static Acks worse(Acks a, Acks b) {
        if (a == Acks::missing || b == Acks::missing) return Acks::missing;
        return a == Acks::refused || b == Acks::refused ? Acks::refused : Acks::all;
    }

    Acks wait_pending() {
        Acks acks = Acks::all;
        for (auto& t : pending_) {
            try {
                if (t->wait_for(std::chrono::seconds(10))) {
                    metrics_.batches_acked.inc();
                } else {
                    metrics_.batches_unanswered.inc();
                    acks = Acks::missing;
                }
            } catch (const mqtt::exception& e) {
                log::log(log::Level::warning, "batch_not_acknowledged", {{"error", e.what()}});
                // A reason code is the broker's answer; without one the connection failed.
                bool refused = e.get_reason_code() >= 0x80;
                (refused ? metrics_.batches_refused : metrics_.batches_unanswered).inc();
                acks = worse(acks, refused ? Acks::refused : Acks::missing);
            }
        }
        pending_.clear();
        return acks;
    }

    mqtt::async_client& client_;
    std::function<int64_t()> clock_;
    size_t window_;
    BridgeMetrics& metrics_;
    std::vector<mqtt::delivery_token_ptr> pending_;
    Acks earlier_ = Acks::all;
};

std::string level(const std::string& topic, size_t index) {
    size_t start = 0;
    for (size_t i = 0; i < index; ++i) {
        start = topic.find('/', start);
        if (start == std::string::npos) return {};
        ++start;
    }
    return topic.substr(start, topic.find('/', start) - start);
}

}  // namespace

Bridge::Bridge(BridgeConfig config, std::function<int64_t()> clock)
    : config_(std::move(config)), clock_(clock ? std::move(clock) : std::function<int64_t()>(now_ms)) {}

Bridge::~Bridge() { stop(); }

void Bridge::start() {
    std::string uri = (config_.tls ? "ssl://" : "tcp://") + config_.host + ":" + std::to_string(config_.port);
    client_ = std::make_unique<mqtt::async_client>(uri, config_.client_id, mqtt::create_options(MQTTVERSION_5));
    client_->start_consuming();
    // Runs on a Paho thread: only issue the (asynchronous) subscribes and flag the catch-up.
    client_->set_connected_handler([this](const std::string&) {
        if (!running_) return;
        set_nodelay_to_port(config_.port);
        subscribe_all(false);
        reconnected_ = true;
    });
    auto opts = mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_5)
                    .user_name(config_.user)
                    .password(config_.password)
                    .clean_start(false)
                    .properties({mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL, session_expiry_s)})
                    .automatic_reconnect(std::chrono::milliseconds(200), std::chrono::seconds(5))
                    .max_inflight(1000)
                    .connect_timeout(std::chrono::seconds(5))
                    .finalize();
    if (config_.tls) {
        auto ssl = mqtt::ssl_options_builder().enable_server_cert_auth(true).verify(true);
        if (!config_.ca_file.empty()) ssl.trust_store(config_.ca_file);
        opts.set_ssl(ssl.finalize());
    }
    try {
        client_->connect(opts)->wait();
    } catch (const mqtt::exception& e) {
        throw std::runtime_error("cannot connect to " + uri + " as " + config_.user + ": " + e.what());
    }
    set_nodelay_to_port(config_.port);
    subscribe_all(true);
    if (config_.metrics_port > 0) {
        endpoint_ = std::make_unique<metrics::Endpoint>(registry_, config_.metrics_port, [this]() -> std::optional<std::string> {
            if (!client_->is_connected()) return "not connected to the broker";
            return std::nullopt;
        });
    }
    running_ = true;
    live_ = std::thread([this] { guarded("the live thread", [this] { live_loop(); }); });
    sync_ = std::thread([this] { guarded("the sync thread", [this] { sync_loop(); }); });
}

void Bridge::subscribe_all(bool wait) {
    for (const char* f : filters) {
        auto tok = client_->subscribe(f, 1);
        if (!wait) continue;
        tok->wait();
        auto response = tok->get_subscribe_response();
        auto codes = response.get_reason_codes();
        if (codes.empty() || codes[0] >= 0x80) throw std::runtime_error(std::string("subscription refused: ") + f);
    }
}

void Bridge::stop() {
    if (!running_.exchange(false)) return;
    sync_cv_.notify_all();
    if (live_.joinable()) live_.join();
    if (sync_.joinable()) sync_.join();
    endpoint_.reset();
    try {
        client_->stop_consuming();
        if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(5));
    } catch (const mqtt::exception& e) {
        log::log(log::Level::warning, "disconnect_failed", {{"error", e.what()}});
    }
}

void Bridge::guarded(const char* name, const std::function<void()>& body) {
    // No exception may leave a thread (std::terminate would end the service): whatever escapes
    // the body, including the construction of its connection and workers, is logged and the
    // body starts again with fresh ones, which first catch up on what is owed.
    for (int attempt = 1; running_; ++attempt) {
        try {
            body();
            return;  // stopped
        } catch (const std::exception& e) {
            log::log(log::Level::error, "thread_restarted", {{"thread", name}, {"attempt", attempt}, {"error", e.what()}});
        } catch (...) {
            log::log(log::Level::error, "thread_restarted", {{"thread", name}, {"attempt", attempt}});
        }
        std::unique_lock lock(sync_mu_);
        sync_cv_.wait_for(lock, std::chrono::milliseconds(100 * std::min(attempt, 10)), [this] { return !running_; });
    }
}

void Bridge::live_loop() {
    storage::InUseLock in_use(config_.db_path);  // chatctl restore refuses while the bridge runs
    storage::Database db(config_.db_path);
    // Group fan-out publishes one batch per chunk of members, so a few dozen outstanding
    // publishes keep the pipe full while bounding what a slow broker makes us hold.
    PahoPublisher out(*client_, clock_, 64, metrics_);
    GroupFanout groups(db, out, clock_, config_.fanout_chunk);
    ProfileNotices profile_notices(db, out, config_.fanout_chunk);
    Receipts receipts(db, out);
    Expiry expiry(db, config_.expiry_ms, config_.retention_ms);
    storage::GroupOutbox outbox(db);
    std::unique_ptr<PushHook> push;
    if (!config_.push_url.empty() || !config_.push_gateway.empty()) {
        push = std::make_unique<PushHook>(PushOptions{config_.push_url, config_.push_gateway, config_.push_debounce_ms},
                                          clock_, db, metrics_.pushes_sent, metrics_.pushes_failed);
    }

    // Catch up on group messages, receipts and membership changes that arrived while no bridge ran.
    int64_t next_sweep = 0;
    bool catch_up = true;
    while (running_) {
        try {
            int64_t now = clock_();
            if (catch_up || reconnected_.exchange(false)) {
                size_t caught_up = groups.catch_up(now);
                // Copies before completions: a scrape in between never sees a fan-out done without its copies.
                metrics_.fanout_entries.inc(groups.take_members_sent());
                metrics_.fanouts_done.inc(caught_up);
                while (receipts.catch_up(now) > 0) {
                }
                catch_up = false;
            }
            if (now >= next_sweep) {
                next_sweep = now + config_.sweep_ms;
                metrics_.notices.inc(groups.emit_notices());
                metrics_.notices.inc(profile_notices.emit());
                // Messages another bridge took but did not finish (it crashed) are older than a sweep.
                size_t resumed = groups.fan_out_pending(now - std::max<int64_t>(config_.sweep_ms, 2000));
                metrics_.fanout_entries.inc(groups.take_members_sent());
                metrics_.fanouts_done.inc(resumed);
                metrics_.fanouts_pending.set(outbox.pending_count());
                // Acks whose receipts no bridge made (one died after the k/ PUBACK).
                receipts.catch_up(now);
                metrics_.expired_entries.inc(static_cast<uint64_t>(expiry.sweep(now)));
            }
            metrics_.receipts.inc(receipts.take_created());
            if (push) push->drop_rejected();
            mqtt::const_message_ptr msg;
            auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(
                                                                    std::min<int64_t>(config_.sweep_ms, 200));
            if (!client_->try_consume_message_until(&msg, deadline) || !msg) continue;
            const std::string& topic = msg->get_topic();
            std::string kind = level(topic, 0);
            if (kind == "g" || kind == "l" || kind == "st") {  // a group's, a broadcast list's, a status
                auto result = groups.fan_out(entry_from_json(msg->to_string()));
                metrics_.fanout_entries.inc(groups.take_members_sent());
                if (result.finished) metrics_.fanouts_done.inc();
            } else if (kind == "k") {
                auto j = nlohmann::json::parse(msg->to_string());
                receipts.on_ack(level(topic, 1), j.at("delivered").get<int64_t>(), j.at("ts").get<int64_t>());
                metrics_.receipts.inc(receipts.take_created());
            } else if (kind == "s") {
                auto j = nlohmann::json::parse(msg->to_string());
                {
                    std::lock_guard lock(sync_mu_);
                    sync_requests_.push_back(SyncRequest{level(topic, 1), j.at("device").get<std::string>(),
                                                         j.at("after").get<int64_t>(), j.at("upto").get<int64_t>()});
                    metrics_.sync_requests_queued.set(static_cast<int64_t>(sync_requests_.size()));
                }
                metrics_.sync_requests.inc();
                sync_cv_.notify_one();
            } else if (kind == "b" && level(topic, 1) == "push" && push) {
                auto j = nlohmann::json::parse(msg->to_string());
                PushSignal signal{level(topic, 2), j.at("pending").get<int64_t>(), j.value("conversation", std::string())};
                if (j.contains("call")) {
                    push->ring(signal, j["call"]);  // a ringing phone cannot wait for a debounce window
                } else if (push->on_signal(signal) == 0) {
                    metrics_.pushes_debounced.inc();  // debounced, muted, or nowhere to send
                }
            }
        } catch (const std::exception& e) {
            log::log(log::Level::error, "live_work_failed", {{"error", e.what()}});
        }
    }
    out.flush();
}

void Bridge::sync_loop() {
    storage::Database db(config_.db_path);
    PahoPublisher out(*client_, clock_, 64, metrics_);  // replay flushes after every page anyway
    SyncReplay replay(db, out, config_.sync_page);
    while (running_) {
        try {
            std::deque<SyncRequest> fresh;
            {
                std::unique_lock lock(sync_mu_);
                if (replay.idle()) {
                    sync_cv_.wait_for(lock, std::chrono::milliseconds(200),
                                      [this] { return !running_ || !sync_requests_.empty(); });
                }
                fresh.swap(sync_requests_);
                metrics_.sync_requests_queued.set(0);
            }
            for (auto& r : fresh) replay.request(std::move(r));
            auto step = replay.step();
            if (step == SyncReplay::Step::page || step == SyncReplay::Step::finished) metrics_.replay_pages.inc();
            if (step == SyncReplay::Step::finished) metrics_.sync_requests_served.inc();
        } catch (const std::exception& e) {
            log::log(log::Level::error, "sync_failed", {{"error", e.what()}});
        }
    }
}

}  // namespace chat::bridge
