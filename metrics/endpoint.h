// Endpoint: the loopback HTTP server of a process's /metrics and /healthz, on its own thread,
// so the threads that count (the broker's, the bridge's) only ever bump atomics.
#pragma once

#include "registry.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace chat::metrics {

class Endpoint {
public:
    // What is wrong, or nullopt when healthy; runs on the endpoint's thread.
    using HealthCheck = std::function<std::optional<std::string>()>;

    // Listens on 127.0.0.1:port (0: any free port, see port()); throws std::runtime_error when
    // it cannot. GET /metrics renders `registry`; GET /healthz answers 200 {"status":"ok"} or
    // 503 {"error":...}. `registry` must outlive the endpoint.
    Endpoint(const Registry& registry, int port, HealthCheck health);
    ~Endpoint();
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    int port() const { return port_; }

private:
    std::unique_ptr<httplib::Server> server_;
    int port_ = 0;
    std::atomic<bool> listener_done_{false};
    std::thread thread_;
};

}  // namespace chat::metrics
