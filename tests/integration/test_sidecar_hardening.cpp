// Integration tests of the sidecar on the open internet: HTTPS, slow and idle sockets, the
// per-address cap, a start that fails, per-device and per-user quotas, /metrics, token revocation.
#include "sidecar/http_server.h"
#include "sidecar_harness.h"
#include "tools/operator_cli.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

using namespace chat::testing;
using chat::sidecar::Fd;
using nlohmann::json;

namespace {

// A TCP connection to 127.0.0.1:port from the loopback address `source` (127.0.0.2 stands for
// "another client on the internet": the per-address cap counts it apart from 127.0.0.1).
Fd connect_from(const char* source, int port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &src.sin_addr);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src) == 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(port));
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0);
    timeval tv{20, 0};  // a bound for the reads below, so a wrong server fails the test instead of hanging it
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

bool send_text(const Fd& fd, const std::string& text) {
    return ::send(fd.get(), text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// Reads until the server closes the connection; false if it is still open after SO_RCVTIMEO.
bool closed_by_server(const Fd& fd, std::string* received = nullptr) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
        if (n < 0) return false;
        if (received) received->append(buf, static_cast<size_t>(n));
    }
}

// GET /healthz over a fresh connection from 127.0.0.1; prints how long it took (a figure, not a check).
int healthz(int port, const char* what) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(10, 0);
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.Get("/healthz");
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "/healthz under " << what << ": " << (r ? std::to_string(r->status) : httplib::to_string(r.error()))
              << " in " << ms << " ms\n";
    return r ? r->status : -1;
}

void run(const std::string& command) { REQUIRE(std::system(command.c_str()) == 0); }

// A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command line.
void make_ca_and_server_cert(const std::filesystem::path& dir, const std::string& ca) {
    std::string d = dir.string() + "/";
    const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run("openssl req -x509" + ec + " -keyout " + d + ca + ".key -out " + d + ca + ".pem -days 2 -subj /CN=" + ca +
        " 2>/dev/null");
    std::ofstream(d + "san.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    run("openssl req" + ec + " -keyout " + d + "server.key -out " + d + "server.csr -subj /CN=localhost 2>/dev/null");
    run("openssl x509 -req -in " + d + "server.csr -CA " + d + ca + ".pem -CAkey " + d + ca + ".key -CAcreateserial -out " +
        d + "server.pem -days 2 -extfile " + d + "san.ext 2>/dev/null");
}

}  // namespace

TEST_CASE("HTTPS with a certificate and key: a client trusting the CA gets /healthz, others are refused") {
    TempDir certs;
    make_ca_and_server_cert(certs.path(), "test-ca");
    TempDir other;
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + other.path().string() +
        "/other.key -out " + other.path().string() + "/other.pem -days 2 -subj /CN=other-ca 2>/dev/null");
    SidecarHarness sc({}, [&](chat::sidecar::SidecarConfig& c) {
        c.tls_cert = certs.path() / "server.pem";
        c.tls_key = certs.path() / "server.key";
        c.header_timeout_s = 1;  // how long a plain-HTTP peer is waited for (OpenSSL waits for a whole record)
    });

    httplib::SSLClient trusting("127.0.0.1", sc.port());
    trusting.set_ca_cert_path((certs.path() / "test-ca.pem").c_str());
    trusting.enable_server_certificate_verification(true);
    auto ok = trusting.Get("/healthz");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(body_of(ok)["status"] == "ok");

    httplib::SSLClient stranger("127.0.0.1", sc.port());
    stranger.set_ca_cert_path((other.path() / "other.pem").c_str());
    stranger.enable_server_certificate_verification(true);
    auto refused = stranger.Get("/healthz");
    CHECK(!refused);
    CHECK(refused.error() == httplib::Error::SSLServerVerification);

    // Plain HTTP on the HTTPS port gets no answer (the connection closes at the header deadline).
    auto plain = sc.http().Get("/healthz");
    CHECK(!plain);
}

TEST_CASE("a certificate without a matching key is refused at start") {
    TempDir certs;
    make_ca_and_server_cert(certs.path(), "test-ca");
    chat::sidecar::ListenerOptions o;
    o.tls_cert = certs.path() / "server.pem";
    o.tls_key = certs.path() / "test-ca.key";
    CHECK_THROWS_WITH(chat::sidecar::HttpServer(o), Catch::Contains("cannot load TLS key") && Catch::Contains("mismatch"));
    o.tls_key = certs.path() / "missing.key";
    CHECK_THROWS_WITH(chat::sidecar::HttpServer(o), Catch::Contains("cannot load TLS key"));
}

TEST_CASE("64 slow and 64 idle sockets from one address do not keep /healthz from another") {
    SidecarHarness sc({}, [](chat::sidecar::SidecarConfig& c) { c.threads = chat::sidecar::SidecarConfig{}.threads; });
    std::vector<Fd> slow, idle;
    for (int i = 0; i < 64; ++i) {
        slow.push_back(connect_from("127.0.0.2", sc.port()));
        send_text(slow.back(), "GET /healthz HTTP/1.1\r\n");
        idle.push_back(connect_from("127.0.0.2", sc.port()));
    }
    for (int round = 0; round < 3; ++round) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        // One header line a second, never the blank line that ends the headers.
        for (auto& fd : slow) send_text(fd, "X-Slow-" + std::to_string(round) + ": 1\r\n");
        CHECK(healthz(sc.port(), "64 slow + 64 idle sockets") == 200);
    }
}

TEST_CASE("connections past the per-address cap are closed at once, other addresses are served") {
    SidecarHarness sc({}, [](chat::sidecar::SidecarConfig& c) { c.max_connections_per_address = 2; });
    std::vector<Fd> held;
    for (int i = 0; i < 2; ++i) {
        held.push_back(connect_from("127.0.0.2", sc.port()));
        // A full request answered proves the server holds this connection's slot.
        REQUIRE(send_text(held.back(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
        char buf[512];
        REQUIRE(::recv(held.back().get(), buf, sizeof buf, 0) > 0);
    }
    auto third = connect_from("127.0.0.2", sc.port());
    std::string got;
    CHECK(closed_by_server(third, &got));
    CHECK(got.empty());
    CHECK(healthz(sc.port(), "a full per-address cap of another address") == 200);
    held.pop_back();  // closing one frees a slot
    bool served = false;
    for (int attempt = 0; attempt < 50 && !served; ++attempt) {
        auto again = connect_from("127.0.0.2", sc.port());
        send_text(again, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        std::string answer;
        closed_by_server(again, &answer);
        served = answer.rfind("HTTP/1.1 200", 0) == 0;
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(served);
}

TEST_CASE("a peer that sends its headers too slowly or nothing at all is cut off") {
    SidecarHarness sc({}, [](chat::sidecar::SidecarConfig& c) {
        c.header_timeout_s = 1;
        c.idle_timeout_s = 1;
    });
    auto idle = connect_from("127.0.0.1", sc.port());
    auto slow = connect_from("127.0.0.1", sc.port());
    send_text(slow, "GET /healthz HTTP/1.1\r\n");
    std::atomic<bool> stop{false};
    std::thread drip([&] {
        for (int i = 0; i < 100 && !stop; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (!send_text(slow, "X-Drip: 1\r\n")) return;
        }
    });
    std::string answer;
    CHECK(closed_by_server(slow, &answer));
    stop = true;
    drip.join();
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);  // httplib's answer to headers that never ended
    CHECK(closed_by_server(idle));
    CHECK(healthz(sc.port(), "nothing") == 200);
}

TEST_CASE("start fails instead of waiting forever when the accept loop ends before it serves") {
    chat::sidecar::ListenerOptions o;
    o.threads = 2;
    chat::sidecar::HttpServer server(o);
    int listening = -1;
    server.set_socket_options([&](socket_t sock) { listening = sock; });
    server.bind("127.0.0.1", 0);
    REQUIRE(listening >= 0);
    REQUIRE(::shutdown(listening, SHUT_RDWR) == 0);  // accept() now fails at once
    CHECK_THROWS_WITH(server.serve(), Catch::Contains("stopped before it accepted"));
}

TEST_CASE("key and presence look-ups are limited per device with 429 and Retry-After") {
    SidecarHarness sc({}, [](chat::sidecar::SidecarConfig& c) { c.lookups_per_device = {3, 60'000}; });
    auto alice = sc.register_device("+15550001");
    auto bob = sc.register_device("+15550002");
    auto h = SidecarHarness::auth(alice.token);
    CHECK(sc.http().Get("/v1/keys/15550002", h)->status == 200);
    CHECK(sc.http().Get("/v1/users/15550002/presence", h)->status == 200);
    CHECK(sc.http().Get("/v1/keys/15550099", h)->status == 200);  // unknown numbers count too
    auto refused = sc.http().Get("/v1/keys/15550003", h);
    REQUIRE(refused);
    CHECK(refused->status == 429);
    CHECK(refused->get_header_value("Retry-After") == "60");
    CHECK(body_of(refused)["retry_after"] == 60);
    CHECK(sc.http().Get("/v1/users/15550002/presence", h)->status == 429);
    // Another device has its own budget.
    CHECK(sc.http().Get("/v1/keys/15550001", SidecarHarness::auth(bob.token))->status == 200);
}

TEST_CASE("group creation, media bytes and uploads in flight are limited per user") {
    SidecarHarness sc({}, [](chat::sidecar::SidecarConfig& c) {
        c.groups_per_user = {1, 60'000};
        c.media_bytes_per_user = {100, 60'000};
        c.uploads_per_user = 1;
    });
    auto alice = sc.register_device("+15550001");
    auto h = SidecarHarness::auth(alice.token);

    CHECK(sc.post_json("/v1/groups", {{"name", "one"}}, alice.token)->status == 201);
    auto second = sc.post_json("/v1/groups", {{"name", "two"}}, alice.token);
    CHECK(second->status == 429);
    CHECK(second->has_header("Retry-After"));

    CHECK(sc.http().Post("/v1/media", h, std::string(60, 'a'), "application/octet-stream")->status == 201);
    auto over = sc.http().Post("/v1/media", h, std::string(60, 'b'), "application/octet-stream");
    CHECK(over->status == 429);
    CHECK(over->has_header("Retry-After"));
    // A resumable upload counts its whole Upload-Length when created.
    httplib::Headers create = h;
    create.emplace("Upload-Length", "41");
    CHECK(sc.http().Post("/v1/uploads", create, "", "application/json")->status == 429);

    // One upload in flight: a second POST while a body is still arriving is refused.
    SidecarHarness roomy({}, [](chat::sidecar::SidecarConfig& c) { c.uploads_per_user = 1; });
    auto carol = roomy.register_device("+15550003");
    auto slow = connect_from("127.0.0.1", roomy.port());
    REQUIRE(send_text(slow, "POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + carol.token +
                                "\r\nContent-Length: 1000\r\n\r\n" + std::string(10, 'c')));
    // The slow POST holds its slot once its first body bytes are counted.
    auto& metrics = roomy.server().metrics();
    for (int attempt = 0; attempt < 500 && metrics.get(chat::sidecar::Counter::upload_bytes) < 10; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(metrics.get(chat::sidecar::Counter::upload_bytes) == 10);
    auto second_upload = roomy.http().Post("/v1/media", SidecarHarness::auth(carol.token), "x", "application/octet-stream");
    REQUIRE(second_upload);
    int status = second_upload->status;
    CHECK(status == 429);
}

TEST_CASE("/metrics needs the metrics token when one is configured") {
    SidecarHarness open_metrics;
    CHECK(open_metrics.http().Get("/metrics")->status == 200);  // a loopback peer, no token configured

    SidecarHarness sc({}, [](chat::sidecar::SidecarConfig& c) { c.metrics_token = "m3trics"; });
    auto none = sc.http().Get("/metrics");
    CHECK(none->status == 401);
    CHECK(body_of(none).contains("error"));
    CHECK(sc.http().Get("/metrics", SidecarHarness::auth("wrong"))->status == 401);
    auto ok = sc.http().Get("/metrics", SidecarHarness::auth("m3trics"));
    CHECK(ok->status == 200);
    CHECK(ok->body.find("chat_sidecar_http_requests_total") != std::string::npos);
}

TEST_CASE("a revoked device's token stops working on HTTP at once") {
    SidecarHarness sc;
    auto alice = sc.register_device("+15550001");
    auto h = SidecarHarness::auth(alice.token);
    REQUIRE(sc.http().Get("/v1/keys/15550001", h)->status == 200);
    std::ostringstream out, err;
    REQUIRE(chat::tools::run_operator_cli({"--db", sc.db_path().string(), "device", "revoke", alice.user, alice.device},
                                          out, err) == 0);
    auto r = sc.http().Get("/v1/keys/15550001", h);  // same keep-alive connection, next request
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(sc.post_json("/v1/groups", {{"name", "x"}}, alice.token)->status == 401);
}
