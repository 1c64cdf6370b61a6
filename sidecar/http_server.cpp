// HttpServer: accepts with httplib's loop, then reads and writes each connection itself (plain or
// TLS through OpenSSL) with deadlines, and hands each request to httplib's parser and router.
#include "http_server.h"

#include "common/log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <vector>

namespace chat::sidecar {
namespace {

using Clock = std::chrono::steady_clock;

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    if (e == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    ERR_clear_error();
    return text;
}

// "1.2.3.4" for IPv4 and IPv4-mapped IPv6 peers, "2001:db8::1" for IPv6.
void address_text(const sockaddr_storage& addr, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
        ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
        port = ntohs(a.sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
        if (IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) {
            ::inet_ntop(AF_INET, &a.sin6_addr.s6_addr[12], text, sizeof text);
        } else {
            ::inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
        }
        port = ntohs(a.sin6_port);
    }
    ip = text;
}

void socket_address(int fd, bool peer, std::string& ip, int& port) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                  : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ip.clear();
    port = 0;
    if (rc == 0) address_text(addr, ip, port);
}

struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// One accepted connection as an httplib::Stream. Every wait polls the socket and the server's
// stop event, bounded by the per-operation timeout and, when set, the request's deadline.
class Connection final : public httplib::Stream {
public:
    Connection(int fd, SSL_CTX* tls, int stop_event, const ListenerOptions& o)
        : fd_(fd), stop_event_(stop_event), read_timeout_ms_(o.read_timeout_s * 1000),
          write_timeout_ms_(o.write_timeout_s * 1000) {
        if (!tls) return;
        ssl_.reset(SSL_new(tls));
        if (!ssl_ || SSL_set_fd(ssl_.get(), fd) != 1) throw std::runtime_error("TLS: " + openssl_error());
    }
    ~Connection() override {
        // A close_notify if the socket takes it now; a peer that vanished is not waited for.
        if (ssl_ && handshake_done_) SSL_shutdown(ssl_.get());
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    bool handshake() {
        if (!ssl_) return true;
        for (;;) {
            ERR_clear_error();
            int rc = SSL_accept(ssl_.get());
            if (rc == 1) return handshake_done_ = true;
            if (!wait_for(ssl_want(rc), read_timeout_ms_)) return false;
        }
    }
    // Waits for the first byte of a next request (keep-alive), at most `timeout_ms`.
    bool wait_for_request(int timeout_ms) { return buffered() || wait_for(POLLIN, timeout_ms); }
    void set_deadline(int seconds) { deadline_ = Clock::now() + std::chrono::seconds(seconds); }
    void clear_deadline() { deadline_.reset(); }
    bool timed_out() const { return timed_out_; }

    bool is_readable() const override { return buffered() || wait_for(POLLIN, read_timeout_ms_); }
    bool is_writable() const override { return wait_for(POLLOUT, write_timeout_ms_); }

    ssize_t read(char* ptr, size_t size) override {
        while (pos_ == len_) {
            ssize_t n = fill();
            if (n <= 0) return n;
        }
        size_t n = std::min(size, len_ - pos_);
        std::memcpy(ptr, buf_.data() + pos_, n);
        pos_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (size == 0) return 0;
        for (;;) {
            short want = POLLOUT;
            if (ssl_) {
                ERR_clear_error();
                int n = SSL_write(ssl_.get(), ptr, static_cast<int>(std::min<size_t>(size, 1 << 20)));
                if (n > 0) return n;
                want = ssl_want(n);
            } else {
                ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
                if (n >= 0) return n;
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            }
            if (want == 0 || !wait_for(want, write_timeout_ms_)) return -1;
        }
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override { socket_address(fd_, true, ip, port); }
    void get_local_ip_and_port(std::string& ip, int& port) const override { socket_address(fd_, false, ip, port); }
    socket_t socket() const override { return fd_; }

private:
    bool buffered() const { return pos_ < len_ || (ssl_ && SSL_pending(ssl_.get()) > 0); }

    // POLLIN/POLLOUT for a retryable TLS result, 0 for a failure or the peer's close.
    short ssl_want(int rc) const {
        switch (SSL_get_error(ssl_.get(), rc)) {
            case SSL_ERROR_WANT_READ: return POLLIN;
            case SSL_ERROR_WANT_WRITE: return POLLOUT;
            default: return 0;
        }
    }

    // Reads what the socket has into the buffer: >0 bytes, 0 at the peer's close, -1 on error or timeout.
    ssize_t fill() {
        pos_ = len_ = 0;
        for (;;) {
            short want = POLLIN;
            if (ssl_) {
                ERR_clear_error();
                int n = SSL_read(ssl_.get(), buf_.data(), static_cast<int>(buf_.size()));
                if (n > 0) return static_cast<ssize_t>(len_ = static_cast<size_t>(n));
                if (SSL_get_error(ssl_.get(), n) == SSL_ERROR_ZERO_RETURN) return 0;
                want = ssl_want(n);
            } else {
                ssize_t n = ::recv(fd_, buf_.data(), buf_.size(), 0);
                if (n >= 0) return static_cast<ssize_t>(len_ = static_cast<size_t>(n));
                if (errno == EINTR) continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            }
            if (want == 0 || !wait_for(want, read_timeout_ms_)) return -1;
        }
    }

    // True once the socket is ready for `events`; false on timeout (then timed_out()), deadline or stop.
    bool wait_for(short events, int timeout_ms) const {
        if (deadline_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline_ - Clock::now()).count();
            if (left <= 0) return timed_out_ = true, false;
            timeout_ms = static_cast<int>(std::min<int64_t>(timeout_ms, left));
        }
        std::array<pollfd, 2> fds{pollfd{fd_, events, 0}, pollfd{stop_event_, POLLIN, 0}};
        int rc;
        do {
            rc = ::poll(fds.data(), fds.size(), timeout_ms);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0) timed_out_ = true;
        return rc > 0 && fds[1].revents == 0;
    }

    int fd_;
    int stop_event_;
    int read_timeout_ms_, write_timeout_ms_;
    std::unique_ptr<SSL, SslFree> ssl_;
    bool handshake_done_ = false;
    std::array<char, 16384> buf_{};
    size_t pos_ = 0, len_ = 0;
    std::optional<Clock::time_point> deadline_;
    mutable bool timed_out_ = false;
};

}  // namespace

// A fixed set of threads running queued connections. Unlike httplib::ThreadPool it survives a
// thread that cannot be created (joins the others, then throws) and catches what a job throws.
class HttpServer::WorkerPool {
public:
    explicit WorkerPool(size_t threads) {
        try {
            for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
        } catch (...) {
            shutdown();
            throw;
        }
    }
    ~WorkerPool() { shutdown(); }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    void enqueue(std::function<void()> job) {
        {
            std::lock_guard lock(mutex_);
            jobs_.push_back(std::move(job));
        }
        cv_.notify_one();
    }
    // Runs what is queued (each job closes its socket), then joins.
    void shutdown() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }

private:
    void run() {
        // A peer that closed makes writes fail with EPIPE; OpenSSL writes with write(), which
        // would raise SIGPIPE: keep it pending on this thread instead of killing the process.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
                if (jobs_.empty()) return;
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            try {
                job();
            } catch (const std::exception& e) {
                log::log(log::Level::error, "connection_failed", {{"error", e.what()}});
            } catch (...) {
                log::log(log::Level::error, "connection_failed");
            }
        }
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

// What httplib's accept loop owns: forwards to the pool, and tells the server that the loop
// runs (its first idle tick or first connection).
class HttpServer::ServingQueue : public httplib::TaskQueue {
public:
    explicit ServingQueue(HttpServer& server) : server_(server) {}
    void enqueue(std::function<void()> fn) override {
        server_.mark_serving();
        server_.pool_->enqueue(std::move(fn));
    }
    void on_idle() override {
        server_.mark_serving();
        // The idle tick only served to notice that the loop runs; from now on accept() just blocks.
        server_.idle_interval_sec_ = server_.idle_interval_usec_ = 0;
    }
    void shutdown() override {}  // HttpServer::stop() shuts the pool down after the loop ended

private:
    HttpServer& server_;
};

void HttpServer::SslCtxFree::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

HttpServer::HttpServer(ListenerOptions options)
    : options_(std::move(options)), limiter_(options_.max_connections_per_address) {
    if (options_.tls_cert.empty() != options_.tls_key.empty()) {
        throw std::invalid_argument("a TLS certificate needs its key and a key its certificate");
    }
    if (!options_.tls_cert.empty()) {
        tls_.reset(SSL_CTX_new(TLS_server_method()));
        if (!tls_) throw std::runtime_error("TLS: " + openssl_error());
        SSL_CTX_set_min_proto_version(tls_.get(), TLS1_2_VERSION);
        if (SSL_CTX_use_certificate_chain_file(tls_.get(), options_.tls_cert.c_str()) != 1) {
            throw std::runtime_error("cannot load TLS certificate " + options_.tls_cert.string() + ": " + openssl_error());
        }
        if (SSL_CTX_use_PrivateKey_file(tls_.get(), options_.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
            throw std::runtime_error("cannot load TLS key " + options_.tls_key.string() + ": " + openssl_error());
        }
        if (SSL_CTX_check_private_key(tls_.get()) != 1) {
            throw std::runtime_error("TLS key " + options_.tls_key.string() + " does not match the certificate");
        }
    }
    int efd = ::eventfd(0, EFD_CLOEXEC);
    if (efd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    stop_event_ = Fd(efd);
    set_keep_alive_max_count(options_.max_requests_per_connection);
    // httplib's default adds SO_REUSEPORT, which would let a second server share the port silently.
    set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    new_task_queue = [this] { return new ServingQueue(*this); };
    set_idle_interval(0, 100 * 1000);
}

HttpServer::~HttpServer() { stop(); }

int HttpServer::start(const std::string& host, int port) {
    int bound = bind(host, port);
    serve();
    return bound;
}

int HttpServer::bind(const std::string& host, int port) {
    int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
    if (bound <= 0) throw std::runtime_error("cannot bind " + host + ":" + std::to_string(port));
    // httplib listens with a backlog of 5, so a burst of new connections overflows it and waits
    // for a 1 s SYN retry. listen() again on a listening socket sets the new backlog.
    ::listen(svr_sock_, SOMAXCONN);
    return bound;
}

void HttpServer::serve() {
    pool_ = std::make_unique<WorkerPool>(static_cast<size_t>(options_.threads));
    listen_thread_ = std::thread([this] {
        try {
            if (!listen_after_bind()) log::log(log::Level::error, "accept_loop_failed");
        } catch (const std::exception& e) {
            log::log(log::Level::error, "accept_loop_failed", {{"error", e.what()}});
        } catch (...) {
            log::log(log::Level::error, "accept_loop_failed");
        }
        std::lock_guard lock(state_mutex_);
        listen_ended_ = true;
        state_changed_.notify_all();
    });
    std::unique_lock lock(state_mutex_);
    state_changed_.wait(lock, [&] { return serving_ || listen_ended_; });
    if (serving_) return;
    lock.unlock();
    listen_thread_.join();
    pool_.reset();
    throw std::runtime_error("the HTTP server stopped before it accepted connections");
}

void HttpServer::mark_serving() {
    std::lock_guard lock(state_mutex_);
    if (serving_) return;
    serving_ = true;
    state_changed_.notify_all();
}

void HttpServer::stop() {
    if (!listen_thread_.joinable()) return;
    uint64_t one = 1;
    if (::write(stop_event_.get(), &one, sizeof one) < 0) log::log(log::Level::error, "stop_not_signalled");
    Server::stop();
    listen_thread_.join();
    pool_.reset();
}

bool HttpServer::process_and_close_socket(socket_t sock) {
    Fd owned(sock);
    try {
        serve_connection(sock);
    } catch (const std::exception& e) {
        log::log(log::Level::error, "connection_failed", {{"error", e.what()}});
    }
    ::shutdown(sock, SHUT_RDWR);
    return true;
}

void HttpServer::serve_connection(socket_t sock) {
    std::string peer;
    int peer_port = 0;
    socket_address(sock, true, peer, peer_port);
    auto slot = limiter_.acquire(peer);
    if (!slot) return;  // closed at once: this address already holds its share of the workers
    ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);

    Connection conn(sock, tls_.get(), stop_event_.get(), options_);
    conn.set_deadline(options_.header_timeout_s);
    if (!conn.handshake()) return;
    for (size_t served = 0; served < keep_alive_max_count_; ++served) {
        conn.clear_deadline();
        if (!conn.wait_for_request(options_.idle_timeout_s * 1000)) return;
        conn.set_deadline(options_.header_timeout_s);
        bool closed = false;
        bool ok = process_request(conn, served + 1 == keep_alive_max_count_, closed, [&](httplib::Request& req) {
            req.ranges.clear();
            if (options_.long_body && options_.long_body(req.path)) conn.clear_deadline();
        });
        if (!ok || closed || conn.timed_out()) return;
    }
}

}  // namespace chat::sidecar
