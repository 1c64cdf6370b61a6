// LinkEmulator: a poll() loop on one thread that paces, delays, counts and cuts proxied TCP bytes.
#include "link_emulator.h"
#include "process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace chat::testing {

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

int UniqueFd::release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kbit(int64_t kilobits_per_second) { return kilobits_per_second * 1000 / 8; }

LinkProfile make_profile(std::string name, int64_t down_kbit, int64_t up_kbit, int delay_ms) {
    auto delay = std::chrono::milliseconds(delay_ms);
    return {std::move(name), {kbit(down_kbit), delay}, {kbit(up_kbit), delay}};
}

// Bytes are released in pieces of at most this size (about a small radio frame), so a large
// read is paced out piece by piece instead of arriving all at once after its whole send time.
constexpr size_t piece_size = 512;
// A direction stops reading from its source while this much is queued (backpressure).
constexpr size_t max_queued = 64 * 1024;

struct Piece {
    Clock::time_point release;
    std::string bytes;
};

// One direction of one proxied connection.
struct Lane {
    const LinkDirection* direction = nullptr;
    std::deque<Piece> queue;
    size_t queued = 0;
    size_t written_of_front = 0;
    Clock::time_point link_free{};  // when the link has sent every byte queued so far
    bool source_closed = false;
    bool shut = false;  // the destination got our FIN
    bool blocked = false;  // the last write would have blocked: wait for POLLOUT

    // Queues bytes read at `now`: each piece leaves after the bytes before it at the lane's rate,
    // then travels `delay`.
    void push(const char* data, size_t n, Clock::time_point now) {
        for (size_t at = 0; at < n; at += piece_size) {
            size_t len = std::min(piece_size, n - at);
            Clock::time_point sent = std::max(now, link_free);
            if (direction->bytes_per_second > 0) {
                sent += std::chrono::nanoseconds(static_cast<int64_t>(len) * 1'000'000'000 / direction->bytes_per_second);
            }
            link_free = sent;
            queue.push_back({sent + direction->delay, std::string(data + at, len)});
            queued += len;
        }
    }
    bool due(Clock::time_point now) const { return !queue.empty() && queue.front().release <= now; }
    bool may_read() const { return !source_closed && queued < max_queued; }
};

struct Connection {
    UniqueFd phone;
    UniqueFd server;
    Lane up;    // phone -> server
    Lane down;  // server -> phone
    bool failed = false;

    bool finished() const { return failed || (up.shut && down.shut); }
};

void set_nonblocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL, 0);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw std::runtime_error("fcntl failed");
}

void set_nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A connected, non-blocking socket to 127.0.0.1:port, or nothing if the target refuses.
std::optional<UniqueFd> connect_to(int port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return std::nullopt;
    sockaddr_in addr = loopback_address(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return std::nullopt;
    set_nonblocking(fd.get());
    set_nodelay(fd.get());
    return fd;
}

// Reads what `from` has into `lane`; returns the byte count (0 at end of stream, -1 on error).
ssize_t pump_in(int from, Lane& lane, Clock::time_point now) {
    char buf[16 * 1024];
    ssize_t n = ::recv(from, buf, sizeof buf, 0);
    if (n > 0) {
        lane.push(buf, static_cast<size_t>(n), now);
    } else if (n == 0) {
        lane.source_closed = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return 0;
    }
    return n;
}

// Writes the lane's due pieces to `to`; returns the bytes written, or -1 on error.
ssize_t pump_out(int to, Lane& lane, Clock::time_point now) {
    ssize_t total = 0;
    lane.blocked = false;
    while (lane.due(now)) {
        Piece& front = lane.queue.front();
        ssize_t n = ::send(to, front.bytes.data() + lane.written_of_front, front.bytes.size() - lane.written_of_front,
                           MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                lane.blocked = true;
                break;
            }
            return -1;
        }
        total += n;
        lane.written_of_front += static_cast<size_t>(n);
        lane.queued -= static_cast<size_t>(n);
        if (lane.written_of_front == front.bytes.size()) {
            lane.queue.pop_front();
            lane.written_of_front = 0;
        }
    }
    if (lane.source_closed && lane.queue.empty() && !lane.shut) {
        ::shutdown(to, SHUT_WR);
        lane.shut = true;
    }
    return total;
}

// What to wait for on a socket that feeds `reading` and drains `writing`; a socket with nothing
// to wait for is left out (fd -1), or a closed peer's POLLHUP would wake the loop without end.
pollfd watch(int fd, const Lane& reading, const Lane& writing) {
    short events = 0;
    if (reading.may_read()) events |= POLLIN;
    if (writing.blocked) events |= POLLOUT;
    return {events ? fd : -1, events, 0};
}

// The proxied connections, as the proxy thread sees them. The poll set it builds holds the wake
// and listening sockets first, then each connection's phone and server sockets.
class Connections {
public:
    Connections(const LinkProfile& profile, int target_port) : profile_(profile), target_port_(target_port) {}

    // Fills the poll set after its first two entries; returns when the next piece falls due.
    std::optional<Clock::time_point> watch_all(std::vector<pollfd>& fds) const {
        std::optional<Clock::time_point> due;
        for (const auto& c : open_) {
            for (const Lane* lane : {&c->up, &c->down}) {
                if (lane->queue.empty() || lane->blocked) continue;
                due = due ? std::min(*due, lane->queue.front().release) : lane->queue.front().release;
            }
            fds.push_back(watch(c->phone.get(), c->up, c->down));
            fds.push_back(watch(c->server.get(), c->down, c->up));
        }
        return due;
    }

    // Takes a new phone connection and opens its way to the target; false if there was none.
    bool accept_from(int listen_fd) {
        UniqueFd phone(::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (phone.get() < 0) return false;
        auto server = connect_to(target_port_);
        if (!server) return false;  // the phone sees its connection closed
        set_nodelay(phone.get());
        auto c = std::make_unique<Connection>();
        c->phone = std::move(phone);
        c->server = std::move(*server);
        c->up.direction = &profile_.up;
        c->down.direction = &profile_.down;
        open_.push_back(std::move(c));
        return true;
    }

    // Reads what the polled sockets have, writes every due piece, drops finished connections.
    // Connections accepted after `fds` was built are served from the next pass on.
    void pump(const std::vector<pollfd>& fds, Clock::time_point now, std::atomic<uint64_t>& sent_by_phone,
              std::atomic<uint64_t>& received_by_phone) {
        for (size_t i = 0; i + 2 < fds.size(); i += 2) {
            Connection& c = *open_[i / 2];
            if (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = pump_in(c.phone.get(), c.up, now);
                if (n > 0) sent_by_phone += static_cast<uint64_t>(n);
                if (n < 0) c.failed = true;
            }
            if ((fds[i + 3].revents & (POLLIN | POLLHUP | POLLERR)) && pump_in(c.server.get(), c.down, now) < 0) {
                c.failed = true;
            }
        }
        for (auto& c : open_) {
            if (c->failed) continue;
            ssize_t up = pump_out(c->server.get(), c->up, now);
            ssize_t down = pump_out(c->phone.get(), c->down, now);
            if (down > 0) received_by_phone += static_cast<uint64_t>(down);
            if (up < 0 || down < 0) c->failed = true;
        }
        std::erase_if(open_, [](const auto& c) { return c->finished(); });
    }

    // Closes both sockets of every connection, counted first: whoever sees a close sees its count.
    void cut_all(std::atomic<uint64_t>& cut_count) {
        cut_count += open_.size();
        open_.clear();
    }

private:
    const LinkProfile& profile_;
    int target_port_;
    std::vector<std::unique_ptr<Connection>> open_;
};

}  // namespace

LinkProfile gprs_link() { return make_profile("GPRS", 40, 20, 350); }
LinkProfile edge_link() { return make_profile("EDGE", 200, 100, 150); }
LinkProfile umts_link() { return make_profile("3G", 1000, 400, 75); }
LinkProfile unlimited_link() { return {"unlimited", {}, {}}; }

LinkEmulator::LinkEmulator(int target_port, LinkProfile profile, std::chrono::milliseconds cut_every)
    : profile_(std::move(profile)), cut_every_(cut_every), target_port_(target_port) {
    listen_fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (listen_fd_.get() < 0) throw std::runtime_error("link emulator: socket failed");
    sockaddr_in addr = loopback_address(0);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_.get(), 64) != 0 ||
        ::getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        throw std::runtime_error(std::string("link emulator: cannot listen: ") + std::strerror(errno));
    }
    port_ = ntohs(addr.sin_port);
    wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (wake_fd_.get() < 0) throw std::runtime_error("link emulator: eventfd failed");
    thread_ = std::thread([this] { run(); });
}

LinkEmulator::~LinkEmulator() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake();
    thread_.join();
}

void LinkEmulator::wake() noexcept {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void LinkEmulator::cut() {
    std::unique_lock lock(mu_);
    uint64_t ticket = ++cuts_requested_;
    wake();
    cut_done_.wait(lock, [&] { return cuts_done_ >= ticket || finished_; });
}

void LinkEmulator::run() noexcept {
    try {
        Connections connections(profile_, target_port_);
        Clock::time_point next_cut = Clock::now() + cut_every_;
        std::vector<pollfd> fds;
        for (;;) {
            fds.assign({{wake_fd_.get(), POLLIN, 0}, {listen_fd_.get(), POLLIN, 0}});
            // Sleep until a socket is ready, the next piece falls due or the next periodic cut.
            std::optional<Clock::time_point> wake_at = connections.watch_all(fds);
            if (cut_every_.count() > 0) wake_at = wake_at ? std::min(*wake_at, next_cut) : next_cut;
            int timeout = -1;
            if (wake_at) {
                auto wait = std::chrono::ceil<std::chrono::milliseconds>(*wake_at - Clock::now()).count();
                timeout = static_cast<int>(std::clamp<int64_t>(wait, 0, 60'000));
            }
            if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) throw std::runtime_error("poll failed");
            Clock::time_point now = Clock::now();
            if (fds[0].revents & POLLIN) {
                uint64_t count = 0;
                [[maybe_unused]] ssize_t n = ::read(wake_fd_.get(), &count, sizeof count);
                std::lock_guard lock(mu_);
                if (stopping_) break;
                if (cuts_done_ < cuts_requested_) {
                    connections.cut_all(connections_cut_);
                    cuts_done_ = cuts_requested_;
                    cut_done_.notify_all();
                    continue;
                }
            }
            if (cut_every_.count() > 0 && now >= next_cut) {
                connections.cut_all(connections_cut_);
                next_cut = now + cut_every_;
                continue;
            }
            if ((fds[1].revents & POLLIN) && connections.accept_from(listen_fd_.get())) ++connections_;
            connections.pump(fds, now, sent_by_phone_, received_by_phone_);
        }
    } catch (const std::exception& e) {
        std::cerr << "link emulator stopped: " << e.what() << "\n";
    } catch (...) {
        std::cerr << "link emulator stopped\n";
    }
    std::lock_guard lock(mu_);
    finished_ = true;
    cut_done_.notify_all();
}

}  // namespace chat::testing
