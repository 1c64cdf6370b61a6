// The sidecar's HTTP(S) listener: cpp-httplib parses and routes requests, but over connections this
// class reads itself, so slow or idle peers cannot hold the workers (deadlines, a per-address cap).
#pragma once

#include "connection_limiter.h"
#include "file_util.h"

#include <httplib.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

struct ssl_ctx_st;

namespace chat::sidecar {

struct ListenerOptions {
    int threads = 128;                     // connections served at once (each holds a worker)
    int header_timeout_s = 10;             // request line + headers (and a short body) must arrive within this
    int idle_timeout_s = 5;                // a keep-alive connection with no next request is closed after this
    int read_timeout_s = 30;               // per read of a long body (see long_body)
    int write_timeout_s = 30;              // per write of a response
    int max_connections_per_address = 32;  // 0 = no cap (behind a reverse proxy every peer is the proxy)
    size_t max_requests_per_connection = 1000;
    std::filesystem::path tls_cert, tls_key;  // both set = HTTPS (PEM files)
    // Paths whose body may take longer than header_timeout_s (uploads over slow links): after the
    // headers, only read_timeout_s per read applies to them.
    std::function<bool(const std::string& path)> long_body;
};

// Register routes on it like any httplib::Server, then start()/stop() from one controlling thread.
// Handlers run on the worker pool. req.ranges is always empty: routes that serve ranges read the
// Range header themselves (byte_range.h), because httplib 0.11.4 answers some ranges wrongly.
class HttpServer : public httplib::Server {
public:
    explicit HttpServer(ListenerOptions options);  // loads the TLS certificate and key (throws)
    ~HttpServer() override;
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // bind() then serve(). Throws when either fails.
    int start(const std::string& host, int port);
    // Binds (port 0 = any free port); returns the port. Throws when the address cannot be bound.
    int bind(const std::string& host, int port);
    // Accepts on a background thread; returns once it does. Throws, and leaves no thread behind,
    // when the accept loop ends before it served.
    void serve();
    void stop();
    bool tls() const { return tls_ != nullptr; }

private:
    class WorkerPool;
    class ServingQueue;
    struct SslCtxFree {
        void operator()(ssl_ctx_st* ctx) const;
    };

    bool process_and_close_socket(socket_t sock) override;
    void serve_connection(socket_t sock);
    void mark_serving();

    ListenerOptions options_;
    std::unique_ptr<ssl_ctx_st, SslCtxFree> tls_;
    ConnectionLimiter limiter_;
    Fd stop_event_;  // an eventfd, readable once stop() began: wakes connections waiting on a peer
    std::unique_ptr<WorkerPool> pool_;
    std::thread listen_thread_;
    std::mutex state_mutex_;
    std::condition_variable state_changed_;
    bool serving_ = false;
    bool listen_ended_ = false;
};

}  // namespace chat::sidecar
