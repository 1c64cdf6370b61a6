// The bridge service: a Paho MQTT v5 client with the bridge identity that consumes the
// shared subscriptions $share/bridge/{g,k,s}/+ and the plugin's push signals, and runs
// group fan-out, receipts, notices and expiry on a live thread and sync replay on a sync
// thread, each with its own SQLite connection. Paho callbacks only hand work over.
// start()/stop() are called from one owning thread; counters may be read from any thread.
#pragma once

#include "bridge_metrics.h"
#include "config.h"
#include "sync_replay.h"

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

namespace mqtt {
class async_client;
}

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
    void subscribe_all(bool wait);
    // A thread's body: runs `body` until stopped, starting it again after any exception.
    void guarded(const char* name, const std::function<void()>& body);
    void live_loop();
    void sync_loop();

    BridgeConfig config_;
    std::function<int64_t()> clock_;
    std::unique_ptr<mqtt::async_client> client_;
    metrics::Registry registry_;
    BridgeMetrics metrics_{registry_};
    std::unique_ptr<metrics::Endpoint> endpoint_;
    std::atomic<bool> running_{false};
    std::atomic<bool> reconnected_{false};
    std::mutex sync_mu_;
    std::condition_variable sync_cv_;
    std::deque<SyncRequest> sync_requests_;
    std::thread live_;
    std::thread sync_;
};

}  // namespace chat::bridge
