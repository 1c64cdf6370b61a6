// Bridge: the node connections, the consume loop on the live thread, paged replay on the sync thread.
#include "bridge.h"

#include "cluster_publisher.h"
#include "expiry.h"
#include "group_fanout.h"
#include "handoffs.h"
#include "paho_publisher.h"
#include "profile_notices.h"
#include "push_hook.h"
#include "receipts.h"
#include "relays.h"
#include "sync_replay.h"
#include "thread_links.h"

#include "common/identity.h"
#include "common/log.h"
#include "storage/backup.h"
#include "storage/cluster.h"
#include "storage/fanout.h"

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <vector>

namespace chat::bridge {
namespace {

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

// A thread's way to the broker node(s): the one connection's publisher, or a ClusterPublisher
// over the thread's links to every node (with the thread's Cluster statements).
struct Bridge::Outlet {
    Outlet(Bridge& bridge, storage::Database& db, size_t window) {
        if (!bridge.config_.cluster) {
            out = std::make_unique<PahoPublisher>(bridge.broker_->client(), bridge.clock_, window, bridge.metrics_);
            return;
        }
        cluster.emplace(db);
        links.emplace(*bridge.nodes_, bridge.clock_, window, bridge.metrics_);
        out = std::make_unique<ClusterPublisher>(*cluster, *links, bridge.clock_);
    }
    std::optional<storage::Cluster> cluster;
    std::optional<ThreadLinks> links;
    std::unique_ptr<Publisher> out;
};

void Bridge::start() {
    stopping_ = false;
    if (config_.cluster) {
        // The live thread adds the nodes from the nodes table at its first sweep.
        nodes_ = std::make_unique<NodeRegistry>(
            [this](const std::string& node, const std::string& host, int port) { return connection(node, host, port); });
    } else {
        broker_ = connection("", config_.host, config_.port);
        broker_->connect();
    }
    if (config_.metrics_port > 0) {
        endpoint_ = std::make_unique<metrics::Endpoint>(registry_, config_.metrics_port, [this]() -> std::optional<std::string> {
            if (broker_ && !broker_->connected()) return "not connected to the broker";
            if (nodes_ && nodes_->connected().first == 0) return "not connected to any broker node";
            return std::nullopt;
        });
    }
    running_ = true;
    live_ = std::thread([this] { guarded("the live thread", [this] { live_loop(); }); });
    sync_ = std::thread([this] { guarded("the sync thread", [this] { sync_loop(); }); });
}

std::shared_ptr<NodeConnection> Bridge::connection(const std::string& node, const std::string& host, int port) {
    NodeConnection::Handlers handlers;
    handlers.hand_over = [this](Arrival arrival) { hand_over(std::move(arrival)); };
    // A (re)connect: catch up on what was missed meanwhile.
    handlers.connected = [this] {
        if (running_) reconnected_ = true;
    };
    return std::make_shared<NodeConnection>(node, host, port, config_, config_.cluster, std::move(handlers));
}

void Bridge::hand_over(Arrival arrival) {
    // Paho acknowledges the publish once this returns: waiting here (rather than dropping)
    // keeps the work; the broker holds the rest of that connection's messages meanwhile.
    // (Paho 1.2's try_put_for does not compile for a non-pointer element: try_put and a pause.)
    while (!stopping_ && !arrivals_.try_put(arrival)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void Bridge::stop() {
    if (!running_.exchange(false)) return;
    stopping_ = true;
    sync_cv_.notify_all();
    if (live_.joinable()) live_.join();
    if (sync_.joinable()) sync_.join();
    endpoint_.reset();
    if (broker_) broker_->disconnect();
    if (nodes_) nodes_->disconnect_all();
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
    Outlet outlet(*this, db, 64);
    Publisher& out = *outlet.out;
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
    std::optional<Relays> relays;
    std::optional<Handoffs> handoffs;
    if (outlet.cluster) {
        relays.emplace(*outlet.cluster, *outlet.links, clock_);
        handoffs.emplace(*outlet.cluster, out);
    }

    // Catch up on group messages, receipts and membership changes that arrived while no bridge ran.
    int64_t next_sweep = 0;
    bool catch_up = true;
    while (running_) {
        try {
            int64_t now = clock_();
            if (now >= next_sweep && nodes_) nodes_->refresh(outlet.cluster->nodes());  // before the catch-up needs them
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
                if (handoffs) handoffs->sweep();
            }
            metrics_.receipts.inc(receipts.take_created());
            if (push) push->drop_rejected();
            metrics_.fanouts_done.inc(groups.finish_delivered(now));
            Arrival arrival;
            // Delivered messages wait to be marked done: look again soon even when nothing arrives.
            int64_t wait_ms = groups.awaiting_rows() ? 5 : std::min<int64_t>(config_.sweep_ms, 200);
            auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
            if (!arrivals_.try_get_until(&arrival, deadline) || !arrival.message) continue;
            const mqtt::const_message_ptr& msg = arrival.message;
            if (relays && was_relayed(*msg)) continue;
            const std::string& topic = msg->get_topic();
            std::string kind = level(topic, 0);
            if (kind == "g" || kind == "l" || kind == "st") {  // a group's, a broadcast list's, a status
                auto result = groups.fan_out(entry_from_json(msg->to_string()));
                metrics_.fanout_entries.inc(groups.take_members_sent());
                if (result.finished) metrics_.fanouts_done.inc();
            } else if ((kind == "m" || kind == "r") && relays) {  // to a user homed on another node
                Entry relay = entry_from_json(msg->to_string());
                if (relay.to.empty()) relay.to = level(topic, 1);
                auto result = groups.fan_out(relay);
                if (result.finished) metrics_.fanouts_done.inc();
            } else if (kind == "t" && relays) {
                relays->typing(level(topic, 1), msg->to_string());
            } else if (kind == "p" && relays) {
                relays->presence(arrival.node, level(topic, 1), msg->to_string(), msg->is_retained());
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
    Outlet outlet(*this, db, 64);  // replay flushes after every page anyway
    SyncReplay replay(db, *outlet.out, config_.sync_page);
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
