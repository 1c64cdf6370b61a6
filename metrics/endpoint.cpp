// The metrics endpoint over cpp-httplib.
#include "endpoint.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <stdexcept>

namespace chat::metrics {

Endpoint::Endpoint(const Registry& registry, int port, HealthCheck health)
    : server_(std::make_unique<httplib::Server>()) {
    // Two workers: a scraper and a health probe. httplib's API takes the queue as a raw pointer
    // and deletes it itself.
    server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
    server_->Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
        res.set_content(registry.render(), "text/plain; version=0.0.4");
    });
    server_->Get("/healthz", [health = std::move(health)](const httplib::Request&, httplib::Response& res) {
        std::optional<std::string> problem;
        try {
            problem = health();
        } catch (const std::exception& e) {
            problem = e.what();
        }
        if (problem) {
            res.status = 503;
            res.set_content(nlohmann::json{{"error", *problem}}.dump(), "application/json");
        } else {
            res.set_content(R"({"status":"ok"})", "application/json");
        }
    });
    port_ = port == 0 ? server_->bind_to_any_port("127.0.0.1") : (server_->bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ <= 0) throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(port) + " for metrics");
    thread_ = std::thread([this] {
        try {
            server_->listen_after_bind();
        } catch (...) {
            // Nothing may leave the thread; a failed listener shows as a missing scrape.
        }
        listener_done_ = true;
    });
    // stop() only reaches a server that is already listening: wait for that, so the
    // destructor's stop() never misses it.
    while (!server_->is_running() && !listener_done_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

Endpoint::~Endpoint() {
    server_->stop();
    thread_.join();
}

}  // namespace chat::metrics
