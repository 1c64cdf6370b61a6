// The bridge service: a Paho MQTT v5 client with the bridge identity that consumes the
// shared subscriptions $share/bridge/{g,k,s}/+ and the plugin's push signals, and runs
// group fan-out, receipts, notices and expiry on a live thread and sync replay on a sync
// thread, each with its own SQLite connection. Paho callbacks only hand work over (a bounded
// queue to the live thread). With --cluster: one such client per broker node of the nodes
// table, batches routed to their users' home nodes, and the cross-node relays and hand-offs.
// start()/stop() are called from one owning thread; counters may be read from any thread.
#pragma once

#include "bridge_metrics.h"
#include "config.h"
#include "node_connection.h"
#include "node_registry.h"
#include "publisher.h"
#include "sync_replay.h"

#include <mqtt/thread_queue.h>

#include "metrics/endpoint.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace chat::bridge {

class Bridge {
public:
    explicit Bridge(BridgeConfig config, std::function<int64_t()> clock = {});
    ~Bridge();
    Bridge(const Bridge&) = delete;
    Bridge& operator=(const Bridge&) = delete;

    // Connects and subscribes (throws std::runtime_error when the broker refuses), then
    // catches up on work missed while no bridge ran, then serves until stop().
    void start();
    void stop();
    // The port of /metrics and /healthz once started with --metrics-port (0: none).
    int metrics_port() const { return endpoint_ ? endpoint_->port() : 0; }

private:
    struct Outlet;
    // Paho threads: into the live thread's queue, waiting while it is full (back pressure on
    // that connection) unless the bridge stops.
    void hand_over(Arrival arrival);
    std::shared_ptr<NodeConnection> connection(const std::string& node, const std::string& host, int port);
    // A thread's body: runs `body` until stopped, starting it again after any exception.
    void guarded(const char* name, const std::function<void()>& body);
    void live_loop();
    void sync_loop();

    BridgeConfig config_;
    std::function<int64_t()> clock_;
    std::shared_ptr<NodeConnection> broker_;  // the one --broker connection, without --cluster
    std::unique_ptr<NodeRegistry> nodes_;     // the nodes' connections, with --cluster
    mqtt::thread_queue<Arrival> arrivals_{10'000};
    metrics::Registry registry_;
    BridgeMetrics metrics_{registry_};
    std::unique_ptr<metrics::Endpoint> endpoint_;
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> reconnected_{false};
    std::mutex sync_mu_;
    std::condition_variable sync_cv_;
    std::deque<SyncRequest> sync_requests_;
    std::thread live_;
    std::thread sync_;
};

}  // namespace chat::bridge
