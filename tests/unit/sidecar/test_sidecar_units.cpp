// Unit tests of the sidecar's socket-free parts: phone validation, rate limiter, flags, metrics, base64.
#include "common/base64.h"
#include "sidecar/config.h"
#include "sidecar/directory_service.h"
#include "sidecar/media_store.h"
#include "sidecar/metrics.h"
#include "sidecar/rate_limiter.h"
#include "sidecar/registration_service.h"

#include <catch2/catch.hpp>

using namespace chat::sidecar;
using chat::from_base64;
using chat::to_base64;

TEST_CASE("phones are E.164 with a plus and the user id is the digits") {
    CHECK(user_id_from_phone("+15550001") == "15550001");
    CHECK(user_id_from_phone("+491701234567") == "491701234567");
    CHECK(!user_id_from_phone("15550001"));
    CHECK(!user_id_from_phone("+"));
    CHECK(!user_id_from_phone("+0123"));
    CHECK(!user_id_from_phone("+1234567890123456"));
    CHECK(!user_id_from_phone("+1 555 0001"));
    CHECK(!user_id_from_phone("+1555-0001"));
}

TEST_CASE("the rate limiter allows `limit` hits per sliding window and says how long to wait") {
    RateLimiter rl({2, 1000});
    CHECK(rl.hit("a", 0) == 0);
    CHECK(rl.hit("a", 100) == 0);
    CHECK(rl.hit("a", 200) == 800);
    CHECK(rl.hit("b", 200) == 0);  // keys are independent
    CHECK(rl.hit("a", 999) == 1);
    CHECK(rl.hit("a", 1000) == 0);  // the first hit left the window
    CHECK(rl.hit("a", 1050) == 50);
    CHECK(rl.retry_after("a", 1050) == 50);  // asking records nothing
    CHECK(rl.retry_after("c", 1050) == 0);
    CHECK(rl.hit("c", 1050) == 0);
    RateLimiter unlimited({0, 1000});
    for (int i = 0; i < 100; ++i) CHECK(unlimited.hit("a", 0) == 0);
}

TEST_CASE("flags set the config and bad flags are reported") {
    SidecarConfig c;
    CHECK(!parse_args({"--port", "0", "--data-dir", "/tmp/x", "--db", "/tmp/x/c.db", "--max-media-bytes", "100",
                       "--register-per-phone", "7", "--rate-window-s", "60", "--threads", "3"},
                      c));
    CHECK(c.port == 0);
    CHECK(c.database() == "/tmp/x/c.db");
    CHECK(c.max_media_bytes == 100);
    CHECK(c.register_per_phone.limit == 7);
    CHECK(c.verify_per_address.window_ms == 60'000);
    CHECK(c.threads == 3);
    CHECK(parse_args({"--port"}, c));
    CHECK(parse_args({"--port", "70000"}, c));
    CHECK(parse_args({"--bogus", "1"}, c));
    CHECK(parse_args({"--sms-webhook", "ftp://x"}, c));
    // Found while seeding fuzz_config: these overflowed (UB) or wrapped to a negative limit.
    CHECK(parse_args({"--rate-window-s", "99999999999999999"}, c));
    CHECK(parse_args({"--upload-ttl-h", "9999999999999999"}, c));
    CHECK(parse_args({"--register-per-phone", "99999999999999999999"}, c));
    SidecarConfig d;
    d.data_dir = "var";
    CHECK(d.database() == "var/chat.db");
}

TEST_CASE("metrics render as Prometheus text") {
    Metrics m;
    m.request("/v1/register", 202);
    m.request("/v1/register", 202);
    m.request("/v1/register", 429);
    m.add(Counter::upload_bytes, 1234);
    auto text = m.render();
    CHECK(text.find("chat_sidecar_http_requests_total{route=\"/v1/register\",status=\"202\"} 2\n") != std::string::npos);
    CHECK(text.find("chat_sidecar_http_requests_total{route=\"/v1/register\",status=\"429\"} 1\n") != std::string::npos);
    CHECK(text.find("chat_sidecar_upload_received_bytes_total 1234\n") != std::string::npos);
    CHECK(text.find("# TYPE chat_sidecar_registrations_total counter\n") != std::string::npos);
}

TEST_CASE("base64 round trip and refusal of junk and id validation") {
    std::string raw("\x00\x01\xfe\xff", 4);
    CHECK(from_base64(to_base64(raw)) == raw);
    CHECK(!from_base64("###"));
    CHECK(!from_base64("AAAA trailing"));
    CHECK(is_media_id(std::string(64, 'a')));
    CHECK(!is_media_id(std::string(64, 'A')));
    CHECK(!is_media_id("../" + std::string(61, 'a')));
    CHECK(is_upload_id(std::string(24, 'z')));
    CHECK(!is_upload_id(std::string(23, 'z')));
    CHECK(!is_upload_id("..%2f" + std::string(19, 'z')));
}
