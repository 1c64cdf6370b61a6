// Tests of the link emulator: bytes intact and counted, delay and rate as lower bounds, cuts.
#include "support/link_emulator.h"
#include "support/process.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <mutex>
#include <random>
#include <thread>

using namespace chat::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A blocking client socket whose reads give up after 5 s, so a broken proxy fails the test.
UniqueFd connect_to(int port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(fd.get() >= 0);
    timeval five{5, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
    sockaddr_in addr = loopback_address(port);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

bool send_all(int fd, const std::string& data) {
    for (size_t at = 0; at < data.size();) {
        ssize_t n = ::send(fd, data.data() + at, data.size() - at, MSG_NOSIGNAL);
        if (n <= 0) return false;
        at += static_cast<size_t>(n);
    }
    return true;
}

// Reads until `n` bytes arrived or the stream ended (closed, reset or 5 s of silence).
std::string recv_up_to(int fd, size_t n) {
    std::string out;
    char buf[8192];
    while (out.size() < n) {
        ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
        if (got <= 0) break;
        out.append(buf, static_cast<size_t>(got));
    }
    return out;
}

// True once the peer has closed or reset the stream (not on a read timeout).
bool closed_by_peer(int fd) {
    char byte;
    ssize_t n = ::recv(fd, &byte, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// The far end of the link: echoes every byte back, one thread per accepted connection, and
// counts the connections that ended with the peer's close.
class EchoServer {
public:
    EchoServer() : listener_(::socket(AF_INET, SOCK_STREAM, 0)) {
        sockaddr_in addr = loopback_address(0);
        socklen_t len = sizeof addr;
        if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener_.get(), 8) != 0 ||
            ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            throw std::runtime_error("echo server cannot listen");
        }
        port_ = ntohs(addr.sin_port);
        acceptor_ = std::thread([this] { accept_all(); });
    }
    ~EchoServer() {
        ::shutdown(listener_.get(), SHUT_RDWR);  // wakes the blocking accept
        acceptor_.join();
        std::lock_guard lock(mu_);
        for (auto& c : connections_) ::shutdown(c.get(), SHUT_RDWR);  // wakes the blocking reads
        for (auto& t : echoers_) t.join();
    }
    int port() const { return port_; }
    int closed_connections() const { return closed_; }

private:
    void accept_all() noexcept {
        for (;;) {
            int fd = ::accept(listener_.get(), nullptr, nullptr);
            if (fd < 0) return;
            try {
                std::lock_guard lock(mu_);
                connections_.emplace_back(fd);
                echoers_.emplace_back([this, fd] { echo(fd); });
            } catch (...) {
                return;
            }
        }
    }
    void echo(int fd) noexcept {
        char buf[8192];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            if (::send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
        }
        ++closed_;
    }
    UniqueFd listener_;
    int port_ = 0;
    std::atomic<int> closed_{0};
    std::mutex mu_;
    std::list<UniqueFd> connections_;  // closed by the destructor, after every echo thread ended
    std::vector<std::thread> echoers_;
    std::thread acceptor_;
};

std::string random_bytes(size_t n) {
    std::mt19937 gen(42);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(byte(gen));
    return s;
}

LinkProfile symmetric(int64_t bytes_per_second, std::chrono::milliseconds delay) {
    return {"test", {bytes_per_second, delay}, {bytes_per_second, delay}};
}

}  // namespace

TEST_CASE("bytes cross the link intact and in order both ways, and the counters are exact") {
    EchoServer echo;
    LinkEmulator link(echo.port(), symmetric(4'000'000, 20ms));
    const std::string data = random_bytes(300'000);
    auto phone = connect_to(link.port());
    // Written from another thread: the echo comes back while the phone is still sending.
    std::thread writer([&] { send_all(phone.get(), data); });
    std::string back = recv_up_to(phone.get(), data.size());
    writer.join();
    REQUIRE(back.size() == data.size());
    CHECK(back == data);
    CHECK(link.bytes_sent_by_phone() == data.size());
    CHECK(eventually([&] { return link.bytes_received_by_phone() == data.size(); }, 5s));
    CHECK(link.total_bytes() == 2 * data.size());
    CHECK(link.connections() == 1);
}

TEST_CASE("each direction's delay and rate hold bytes back (lower bounds only)") {
    EchoServer echo;
    SECTION("a one-byte round trip takes at least both one-way delays") {
        LinkEmulator link(echo.port(), {"test", {0, 120ms}, {0, 80ms}});
        auto phone = connect_to(link.port());
        auto start = Clock::now();
        REQUIRE(send_all(phone.get(), "x"));
        CHECK(recv_up_to(phone.get(), 1) == "x");
        CHECK(Clock::now() - start >= 200ms);
    }
    SECTION("bytes leave no faster than the rate of the slower direction") {
        LinkEmulator link(echo.port(), {"test", {0, 0ms}, {10'000, 0ms}});
        auto phone = connect_to(link.port());
        const std::string data = random_bytes(5'000);
        auto start = Clock::now();
        REQUIRE(send_all(phone.get(), data));
        CHECK(recv_up_to(phone.get(), data.size()) == data);
        CHECK(Clock::now() - start >= 500ms);
    }
}

TEST_CASE("a cut closes both sides of every open connection, and a new connection works after it") {
    EchoServer echo;
    LinkEmulator link(echo.port(), symmetric(0, 10ms));
    auto first = connect_to(link.port());
    auto second = connect_to(link.port());
    REQUIRE(send_all(first.get(), "ping"));
    REQUIRE(send_all(second.get(), "pong"));
    REQUIRE(recv_up_to(first.get(), 4) == "ping");
    REQUIRE(recv_up_to(second.get(), 4) == "pong");
    link.cut();
    CHECK(closed_by_peer(first.get()));
    CHECK(closed_by_peer(second.get()));
    CHECK(eventually([&] { return echo.closed_connections() == 2; }, 5s));
    CHECK(link.connections_cut() == 2);

    auto third = connect_to(link.port());
    REQUIRE(send_all(third.get(), "again"));
    CHECK(recv_up_to(third.get(), 5) == "again");
    CHECK(link.connections() == 3);
}

TEST_CASE("periodic cuts close a connection nobody closes") {
    EchoServer echo;
    LinkEmulator link(echo.port(), unlimited_link(), 500ms);
    auto phone = connect_to(link.port());
    REQUIRE(send_all(phone.get(), "hello"));
    REQUIRE(recv_up_to(phone.get(), 5) == "hello");
    CHECK(closed_by_peer(phone.get()));  // within the 5 s read timeout
    CHECK(link.connections_cut() >= 1);
}

TEST_CASE("a phone closing its side closes the server side through the link") {
    EchoServer echo;
    LinkEmulator link(echo.port(), symmetric(0, 30ms));
    {
        auto phone = connect_to(link.port());
        REQUIRE(send_all(phone.get(), "bye"));
        REQUIRE(recv_up_to(phone.get(), 3) == "bye");
    }
    CHECK(eventually([&] { return echo.closed_connections() == 1; }, 5s));
    CHECK(link.connections_cut() == 0);
}
