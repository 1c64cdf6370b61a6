// An emulated slow mobile link: a loopback TCP proxy with per-direction bandwidth and delay,
// optional cuts, and counters of the TCP payload bytes a phone behind it sends and receives.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace chat::testing {

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
public:
    explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
    ~UniqueFd();
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    int get() const noexcept { return fd_; }
    int release() noexcept;

private:
    int fd_;
};

// One direction of a link: its rate in bytes per second (0 = unlimited) and its one-way delay.
struct LinkDirection {
    int64_t bytes_per_second = 0;
    std::chrono::milliseconds delay{0};
};

struct LinkProfile {
    std::string name;
    LinkDirection down;  // server -> phone
    LinkDirection up;    // phone -> server
};

// The links issue 18 measures over (kbit/s down/up, one-way delay).
LinkProfile gprs_link();       // 40/20 kbit/s, 350 ms
LinkProfile edge_link();       // 200/100 kbit/s, 150 ms
LinkProfile umts_link();       // "3G": 1000/400 kbit/s, 75 ms
LinkProfile unlimited_link();  // no rate limit, no delay: a byte counter only

// Listens on a free 127.0.0.1 port and forwards every accepted connection to 127.0.0.1:target_port.
// Each chunk read from one side is released to the other side `delay` after it was read, and
// each direction's bytes leave no faster than its rate (a chunk waits for the bytes before it),
// so delay adds latency without limiting throughput. A cut closes both sides of every open
// connection; bytes still in flight are lost, as on a dropped radio link.
//
// One thread, owned by the object, runs the proxy; it is stopped and joined by the destructor.
// The other member functions may be called from any thread.
class LinkEmulator {
public:
    // cut_every > 0: cut all open connections every `cut_every`.
    explicit LinkEmulator(int target_port, LinkProfile profile = unlimited_link(),
                          std::chrono::milliseconds cut_every = std::chrono::milliseconds(0));
    ~LinkEmulator();
    LinkEmulator(const LinkEmulator&) = delete;
    LinkEmulator& operator=(const LinkEmulator&) = delete;

    int port() const { return port_; }
    const LinkProfile& profile() const { return profile_; }

    // Closes both sides of every open connection now; returns once they are closed.
    void cut();

    // TCP payload bytes the phones behind this link wrote (read by the proxy from them) and
    // received (written by the proxy to them), over all connections so far.
    uint64_t bytes_sent_by_phone() const { return sent_by_phone_; }
    uint64_t bytes_received_by_phone() const { return received_by_phone_; }
    uint64_t total_bytes() const { return sent_by_phone_ + received_by_phone_; }
    // Connections accepted so far, and connections closed by cuts (on demand or periodic).
    uint64_t connections() const { return connections_; }
    uint64_t connections_cut() const { return connections_cut_; }

private:
    void run() noexcept;
    void wake() noexcept;

    LinkProfile profile_;
    std::chrono::milliseconds cut_every_;
    int target_port_;
    UniqueFd listen_fd_;
    UniqueFd wake_fd_;  // eventfd: cut requests and stop
    int port_ = 0;

    std::atomic<uint64_t> sent_by_phone_{0};
    std::atomic<uint64_t> received_by_phone_{0};
    std::atomic<uint64_t> connections_{0};
    std::atomic<uint64_t> connections_cut_{0};

    std::mutex mu_;
    std::condition_variable cut_done_;
    uint64_t cuts_requested_ = 0;  // guarded by mu_
    uint64_t cuts_done_ = 0;       // guarded by mu_
    bool stopping_ = false;        // guarded by mu_
    bool finished_ = false;        // guarded by mu_: the proxy thread has ended

    std::thread thread_;  // last: started once everything above exists
};

}  // namespace chat::testing
