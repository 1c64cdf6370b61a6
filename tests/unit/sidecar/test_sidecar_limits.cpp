// Unit tests of the sidecar's socket-free guards: Range answers, the per-address connection cap,
// limits by amount (bytes), per-user quotas, who may read /metrics, and the flags.
#include "sidecar/api_error.h"
#include "sidecar/byte_range.h"
#include "sidecar/config.h"
#include "sidecar/connection_limiter.h"
#include "sidecar/http_util.h"
#include "sidecar/quotas.h"
#include "sidecar/rate_limiter.h"
#include "common/identity.h"

#include <catch2/catch.hpp>

using namespace chat::sidecar;
using Kind = RangeAnswer::Kind;

namespace {

bool partial(const RangeAnswer& a, int64_t first, int64_t length) {
    return a.kind == Kind::partial && a.first == first && a.length == length;
}

int status_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const ApiError& e) {
        return e.status();
    }
    return 0;
}

}  // namespace

TEST_CASE("a single byte range is checked against the size") {
    CHECK(partial(answer_range("bytes=0-9", 100), 0, 10));
    CHECK(partial(answer_range("bytes=90-", 100), 90, 10));
    CHECK(partial(answer_range("bytes=90-1000", 100), 90, 10));  // a last byte past the end is cut
    CHECK(partial(answer_range("bytes=99-99", 100), 99, 1));
    CHECK(partial(answer_range("bytes=-5", 100), 95, 5));  // the last 5 bytes
    CHECK(partial(answer_range("bytes=-500", 100), 0, 100));
    CHECK(partial(answer_range("bytes=0-99999999999999999999999", 100), 0, 100));
    CHECK(partial(answer_range("bytes=-99999999999999999999999", 100), 0, 100));
}

TEST_CASE("a range past the end or of zero bytes is unsatisfiable") {
    CHECK(answer_range("bytes=999999999-", 100).kind == Kind::unsatisfiable);
    CHECK(answer_range("bytes=100-", 100).kind == Kind::unsatisfiable);
    CHECK(answer_range("bytes=99999999999999999999999-", 100).kind == Kind::unsatisfiable);
    CHECK(answer_range("bytes=-0", 100).kind == Kind::unsatisfiable);
    CHECK(answer_range("bytes=0-0", 0).kind == Kind::unsatisfiable);
    CHECK(answer_range("bytes=-5", 0).kind == Kind::unsatisfiable);
}

TEST_CASE("no range, other units, malformed and multi-range requests get the whole blob") {
    for (const char* h : {"", "items=0-9", "bytes=", "bytes=-", "bytes=a-9", "bytes=5-2", "bytes=0-9,20-29",
                          "bytes=0-9, 20-", "bytes= 0-9", "bytes=+1-2", "bytes=1--2", "bytes=99999999999999999999-5"}) {
        INFO(h);
        CHECK(answer_range(h, 100).kind == Kind::whole);
    }
}

TEST_CASE("the connection limiter caps open connections per address and frees slots on release") {
    ConnectionLimiter limiter(2);
    auto a1 = limiter.acquire("10.0.0.1");
    auto a2 = limiter.acquire("10.0.0.1");
    REQUIRE(a1);
    REQUIRE(a2);
    CHECK(!limiter.acquire("10.0.0.1"));
    CHECK(limiter.acquire("10.0.0.2"));  // other addresses are not affected
    a1.reset();
    CHECK(limiter.open("10.0.0.1") == 1);
    auto a3 = limiter.acquire("10.0.0.1");
    CHECK(a3);
    a2.reset();
    a3.reset();
    CHECK(limiter.open("10.0.0.1") == 0);

    ConnectionLimiter uncapped(0);
    std::vector<ConnectionLimiter::Slot> many;
    for (int i = 0; i < 100; ++i) {
        auto s = uncapped.acquire("10.0.0.1");
        REQUIRE(s);
        many.push_back(std::move(*s));
    }
    CHECK(uncapped.open("10.0.0.1") == 100);
}

TEST_CASE("the rate limiter counts amounts and says when an amount fits again") {
    RateLimiter bytes({100, 1000});
    CHECK(bytes.hit("u", 0, 60) == 0);
    CHECK(bytes.hit("u", 100, 30) == 0);
    CHECK(bytes.retry_after("u", 200, 10) == 0);
    CHECK(bytes.hit("u", 200, 20) == 800);  // fits once the 60 of t=0 leave the window
    CHECK(bytes.hit("u", 1000, 20) == 0);
    bytes.add("u", 1000, 500);  // recorded although it does not fit
    CHECK(bytes.retry_after("u", 1000, 1) == 1000);
    CHECK(bytes.retry_after("u", 2000, 1) == 0);
    CHECK(bytes.hit("v", 0, 150) == 0);  // above the limit: fits only into an empty window
    CHECK(bytes.hit("v", 10, 150) == 990);
}

TEST_CASE("quotas refuse with 429 per device look-ups, group creation, media bytes and uploads in flight") {
    SidecarConfig c;
    c.lookups_per_device = {2, 60'000};
    c.groups_per_user = {1, 60'000};
    c.media_bytes_per_user = {100, 60'000};
    c.uploads_per_user = 1;
    Metrics metrics;
    Quotas q(c, metrics);
    q.lookup("1/d1", 0);
    q.lookup("1/d1", 1);
    CHECK(status_of([&] { q.lookup("1/d1", 2); }) == 429);
    CHECK(status_of([&] { q.lookup("1/d2", 2); }) == 0);  // per device
    CHECK(status_of([&] { q.create_group("1", 0); }) == 0);
    CHECK(status_of([&] { q.create_group("1", 0); }) == 429);
    q.check_media_bytes("1", 100, 0);
    q.add_media_bytes("1", 80, 0);
    CHECK(status_of([&] { q.check_media_bytes("1", 30, 0); }) == 429);
    CHECK(status_of([&] { q.reserve_media_bytes("1", 30, 0); }) == 429);
    CHECK(status_of([&] { q.reserve_media_bytes("1", 20, 0); }) == 0);
    {
        auto up = q.begin_upload("1");
        CHECK(status_of([&] { q.begin_upload("1"); }) == 429);
        CHECK(status_of([&] { q.begin_upload("2"); }) == 0);
    }
    CHECK(status_of([&] { q.begin_upload("1"); }) == 0);  // released with the first
    CHECK(metrics.get(Counter::rate_limited) == 5);
    try {
        q.lookup("1/d1", 3);
        FAIL("not refused");
    } catch (const ApiError& e) {
        CHECK(e.body()["retry_after"] == 60);
        REQUIRE(e.headers().size() == 1);
        CHECK(e.headers()[0] == std::make_pair(std::string("Retry-After"), std::string("60")));
    }
}

TEST_CASE("flags for TLS, connection limits, quotas and the metrics token") {
    SidecarConfig c;
    CHECK(!parse_args({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--metrics-token", "t0k", "--header-timeout-s", "3",
                       "--idle-timeout-s", "2", "--max-connections-per-address", "0", "--lookups-per-device", "9",
                       "--lookup-window-s", "30", "--media-bytes-per-day", "1000", "--uploads-per-user", "2",
                       "--groups-per-day", "5"},
                      c));
    CHECK(c.tls_cert == "c.pem");
    CHECK(c.tls_key == "k.pem");
    CHECK(c.metrics_token == "t0k");
    CHECK(c.header_timeout_s == 3);
    CHECK(c.idle_timeout_s == 2);
    CHECK(c.max_connections_per_address == 0);
    CHECK(c.lookups_per_device.limit == 9);
    CHECK(c.lookups_per_device.window_ms == 30'000);
    CHECK(c.media_bytes_per_user.limit == 1000);
    CHECK(c.uploads_per_user == 2);
    CHECK(c.groups_per_user.limit == 5);
    SidecarConfig d;
    CHECK(parse_args({"--tls-cert", "c.pem"}, d));  // a certificate without its key
    CHECK(parse_args({"--header-timeout-s", "0"}, d));
}

TEST_CASE("flags for the TURN relay's credentials") {
    SidecarConfig c;
    CHECK(!parse_args({"--turn-secret-file", "var/turn.secret", "--turn-uris",
                       "stun:turn.example.org:3478,turn:turn.example.org:3478?transport=udp", "--turn-ttl-s", "600"},
                      c));
    CHECK(c.turn_secret_file == "var/turn.secret");
    CHECK(c.turn_uris == std::vector<std::string>{"stun:turn.example.org:3478", "turn:turn.example.org:3478?transport=udp"});
    CHECK(c.turn_ttl_s == 600);
    SidecarConfig d;
    CHECK(parse_args({"--turn-uris", ","}, d));
    CHECK(parse_args({"--turn-ttl-s", "0"}, d));
    CHECK(parse_args({"--turn-ttl-s", "99999999"}, d));
}

TEST_CASE("flags for the contact discovery limits") {
    SidecarConfig c;
    CHECK(!parse_args({"--discover-per-request", "50", "--discover-per-day", "400"}, c));
    CHECK(c.discover_per_request == 50);
    CHECK(c.discover_per_device.limit == 400);
    CHECK(parse_args({"--discover-per-request", "0"}, c));  // every request would be refused
}

TEST_CASE("/metrics: loopback peers only, or the bearer of the metrics token") {
    CHECK(status_of([] { require_metrics_access("127.0.0.1", "", ""); }) == 0);
    CHECK(status_of([] { require_metrics_access("127.3.4.5", "", ""); }) == 0);
    CHECK(status_of([] { require_metrics_access("::1", "", ""); }) == 0);
    CHECK(status_of([] { require_metrics_access("203.0.113.7", "", ""); }) == 403);
    CHECK(status_of([] { require_metrics_access("::ffff:203.0.113.7", "", ""); }) == 403);
    std::string hash = chat::hash_token("s3cret");
    CHECK(status_of([&] { require_metrics_access("203.0.113.7", "Bearer s3cret", hash); }) == 0);
    CHECK(status_of([&] { require_metrics_access("203.0.113.7", "Bearer wrong", hash); }) == 401);
    CHECK(status_of([&] { require_metrics_access("127.0.0.1", "", hash); }) == 401);  // the token binds loopback too
    CHECK(status_of([&] { require_metrics_access("127.0.0.1", "s3cret", hash); }) == 401);
}

TEST_CASE("the --cluster flag takes no value and leaves the flags around it intact") {
    SidecarConfig c;
    CHECK_FALSE(c.cluster);
    CHECK(!parse_args({"--port", "0", "--cluster", "--threads", "8"}, c));
    CHECK(c.cluster);
    CHECK(c.port == 0);
    CHECK(c.threads == 8);
    SidecarConfig last;
    CHECK(!parse_args({"--cluster"}, last));
    CHECK(last.cluster);
    SidecarConfig d;
    CHECK(parse_args({"--port", "--cluster"}, d));  // --port's value is not a port
}
