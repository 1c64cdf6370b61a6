// Integration tests of the HTTP sidecar over real HTTP: registration, verification, limits,
// tokens on a real broker, keys, groups, blocks, presence, and refusals of bad input.
#include "sidecar_harness.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"
#include "support/prometheus.h"

#include <catch2/catch.hpp>
#include <sodium.h>

#include <thread>

using namespace chat::testing;
using nlohmann::json;

namespace {

int64_t count(const std::filesystem::path& db, const char* sql) {
    chat::storage::Database d(db.string());
    chat::storage::Statement s(d, sql);
    s.step();
    return s.int_at(0);
}

// Polls an MQTT publish until it yields the wanted reason code (the broker refreshes ACLs
// from the change feed every 200 ms); returns the last code seen.
int publish_until(MqttClient& c, const std::string& topic, bool want_refused) {
    int rc = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    do {
        rc = c.publish(topic, "hi");
        if ((rc == 0x87) == want_refused) return rc;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while (std::chrono::steady_clock::now() < deadline);
    return rc;
}

std::string key_b64(unsigned char fill, size_t len = 32) {
    std::string raw(len, static_cast<char>(fill));
    std::string out(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), len,
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);
    return out;
}

}  // namespace

TEST_CASE("register, read the code from the SMS outbox, verify, and connect to the broker") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());

    auto r = sc.post_json("/v1/register", {{"phone", "+15550001"}});
    REQUIRE(r);
    CHECK(r->status == 202);
    auto code = sc.code_for("+15550001");
    REQUIRE(code);
    CHECK(code->size() == 6);

    auto v = sc.post_json("/v1/verify", {{"phone", "+15550001"}, {"code", *code}});
    REQUIRE(v);
    REQUIRE(v->status == 200);
    auto creds = body_of(v);
    CHECK(creds["user"] == "15550001");
    CHECK(creds["device"] == "d1");
    CHECK(creds["client_id"] == "15550001/d1");
    std::string token = creds["token"];
    CHECK(token.size() >= 43);

    // Only the token's hash is stored.
    CHECK(count(broker.db_path(), "SELECT COUNT(*) FROM devices WHERE length(token_hash) = 0") == 0);
    CHECK(count(sc.db_path(), "SELECT COUNT(*) FROM verification_codes") == 0);

    MqttClient ok(broker.port(), "15550001/d1");
    CHECK(ok.connect("15550001", token) == 0);
    MqttClient bad(broker.port(), "15550001/d1x");
    CHECK(bad.connect("15550001", token) != 0);

    // The code is single-use; a second verify of the same code gets nothing.
    auto again = sc.post_json("/v1/verify", {{"phone", "+15550001"}, {"code", *code}});
    CHECK(again->status == 403);

    // A second phone of the same user becomes d2.
    auto second = sc.register_device("+15550001");
    CHECK(second.device == "d2");
    auto metrics = sc.http().Get("/metrics");
    CHECK(metrics->body.find("chat_sidecar_registrations_total 2") != std::string::npos);
    CHECK(metrics->body.find("route=\"/v1/verify\",status=\"403\"") != std::string::npos);
}

TEST_CASE("wrong codes count down and void the code after five attempts") {
    SidecarHarness sc;
    REQUIRE(sc.post_json("/v1/register", {{"phone", "+15550002"}})->status == 202);
    auto code = *sc.code_for("+15550002");
    std::string wrong = code == "000000" ? "111111" : "000000";
    for (int left = 4; left >= 1; --left) {
        auto r = sc.post_json("/v1/verify", {{"phone", "+15550002"}, {"code", wrong}});
        REQUIRE(r->status == 401);
        CHECK(body_of(r)["attempts_left"] == left);
    }
    auto fifth = sc.post_json("/v1/verify", {{"phone", "+15550002"}, {"code", wrong}});
    CHECK(fifth->status == 403);
    // Even the right code is useless now.
    auto right = sc.post_json("/v1/verify", {{"phone", "+15550002"}, {"code", code}});
    CHECK(right->status == 403);
    CHECK(count(sc.db_path(), "SELECT COUNT(*) FROM users") == 0);
    CHECK(sc.http().Get("/metrics")->body.find("chat_sidecar_auth_failures_total{reason=\"verification_code\"} 6") != std::string::npos);
}

TEST_CASE("an expired code is refused") {
    SidecarHarness sc({}, [](auto& c) { c.code_ttl_ms = 0; });  // every code is already expired
    REQUIRE(sc.post_json("/v1/register", {{"phone", "+15550003"}})->status == 202);
    auto r = sc.post_json("/v1/verify", {{"phone", "+15550003"}, {"code", *sc.code_for("+15550003")}});
    CHECK(r->status == 403);
    CHECK(body_of(r)["error"].get<std::string>().find("register again") != std::string::npos);
    CHECK(count(sc.db_path(), "SELECT COUNT(*) FROM devices") == 0);
}

TEST_CASE("registration is rate limited per phone and per client address with Retry-After") {
    SidecarHarness sc({}, [](auto& c) {
        c.register_per_phone = {2, 60'000};
        c.register_per_address = {4, 60'000};
    });
    CHECK(sc.post_json("/v1/register", {{"phone", "+15550004"}})->status == 202);
    CHECK(sc.post_json("/v1/register", {{"phone", "+15550004"}})->status == 202);
    auto limited = sc.post_json("/v1/register", {{"phone", "+15550004"}});
    REQUIRE(limited->status == 429);
    int retry = std::stoi(limited->get_header_value("Retry-After"));
    CHECK(retry > 0);
    CHECK(retry <= 60);
    CHECK(body_of(limited).contains("error"));

    // Other phones from the same address: 2 more pass (4 per address in all), then 429.
    CHECK(sc.post_json("/v1/register", {{"phone", "+15550005"}})->status == 202);
    CHECK(sc.post_json("/v1/register", {{"phone", "+15550006"}})->status == 202);
    CHECK(sc.post_json("/v1/register", {{"phone", "+15550007"}})->status == 429);
    CHECK(!sc.code_for("+15550007"));
}

TEST_CASE("the webhook SMS sender posts the code and a failing webhook leaves no usable code") {
    httplib::Server hook;
    std::mutex m;
    std::vector<json> received;
    bool fail = false;
    hook.Post("/sms", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(m);
        if (fail) {
            res.status = 500;
            return;
        }
        received.push_back(json::parse(req.body));
        res.status = 204;
    });
    int hook_port = hook.bind_to_any_port("127.0.0.1");
    std::thread t([&] { hook.listen_after_bind(); });
    while (!hook.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    {
        SidecarHarness sc({}, [&](auto& c) { c.sms_webhook = "http://127.0.0.1:" + std::to_string(hook_port) + "/sms"; });
        REQUIRE(sc.post_json("/v1/register", {{"phone", "+15550008"}})->status == 202);
        json msg;
        {
            std::lock_guard lock(m);
            REQUIRE(received.size() == 1);
            msg = received[0];
            fail = true;
        }
        CHECK(msg["phone"] == "+15550008");
        CHECK(!sc.code_for("+15550008"));  // nothing in the outbox file with a webhook configured
        auto v = sc.post_json("/v1/verify", {{"phone", "+15550008"}, {"code", msg["code"]}});
        CHECK(v->status == 200);

        auto failed = sc.post_json("/v1/register", {{"phone", "+15550009"}});
        CHECK(failed->status == 502);
        CHECK(count(sc.db_path(), "SELECT COUNT(*) FROM verification_codes") == 0);
    }
    hook.stop();
    t.join();
}

TEST_CASE("malformed, missing, wrong-typed and oversized input is refused and changes nothing") {
    SidecarHarness sc;
    auto& http = sc.http();
    struct Case {
        std::string body;
        int status;
    };
    std::vector<Case> cases = {
        {"{not json", 400},
        {"[1,2]", 400},
        {"{}", 400},
        {R"({"phone":15550001})", 400},
        {R"({"phone":"15550001"})", 400},   // no '+': not E.164
        {R"({"phone":"+05550001"})", 400},  // leading zero
        {R"({"phone":"+1234567890123456"})", 400},  // 16 digits
        {R"({"phone":"+1555abc"})", 400},
    };
    for (const auto& c : cases) {
        INFO(c.body);
        auto r = http.Post("/v1/register", c.body, "application/json");
        REQUIRE(r);
        CHECK(r->status == c.status);
        CHECK(body_of(r).contains("error"));
    }
    auto verify_cases = {R"({"phone":"+15550001"})", R"({"phone":"+15550001","code":123456})",
                         R"({"phone":"+15550001","code":"12345"})", R"({"phone":"+15550001","code":"12345a"})"};
    for (const char* body : verify_cases) {
        INFO(body);
        CHECK(http.Post("/v1/verify", body, "application/json")->status == 400);
    }
    auto big = http.Post("/v1/register", std::string(100 * 1024, ' '), "application/json");
    REQUIRE(big);
    CHECK(big->status == 413);
    CHECK(body_of(big).contains("error"));

    auto unknown = http.Get("/v1/nothing-here");
    CHECK(unknown->status == 404);
    CHECK(body_of(unknown)["error"] == "not found");

    CHECK(count(sc.db_path(), "SELECT COUNT(*) FROM verification_codes") == 0);
    CHECK(count(sc.db_path(), "SELECT COUNT(*) FROM users") == 0);
    CHECK(!sc.code_for("+15550001"));
}

TEST_CASE("keys: publish this device's X25519 key, list a user's keys, refuse anything else") {
    SidecarHarness sc;
    auto a = sc.register_device("+15550010");
    auto a2 = sc.register_device("+15550010");
    auto b = sc.register_device("+15550011");
    auto& http = sc.http();

    auto put = [&](const Device& d, const json& body) {
        return http.Put("/v1/keys", SidecarHarness::auth(d.token), body.dump(), "application/json");
    };
    CHECK(put(a, {{"identity_key", key_b64(1)}})->status == 204);
    CHECK(put(a2, {{"identity_key", key_b64(2)}})->status == 204);
    CHECK(put(a, {{"identity_key", key_b64(3, 31)}})->status == 400);
    CHECK(put(a, {{"identity_key", key_b64(3, 33)}})->status == 400);
    CHECK(put(a, {{"identity_key", "not base64!"}})->status == 400);
    CHECK(put(a, {{"identity_key", 42}})->status == 400);
    CHECK(http.Put("/v1/keys", json{{"identity_key", key_b64(4)}}.dump(), "application/json")->status == 401);
    CHECK(http.Put("/v1/keys", SidecarHarness::auth("wrong-token"), json{{"identity_key", key_b64(4)}}.dump(),
                   "application/json")->status == 401);

    auto got = http.Get("/v1/keys/15550010", SidecarHarness::auth(b.token));
    REQUIRE(got->status == 200);
    auto j = body_of(got);
    REQUIRE(j["devices"].size() == 2);
    CHECK(j["devices"][0]["device"] == "d1");
    CHECK(j["devices"][0]["identity_key"] == key_b64(1));  // the refused puts changed nothing
    CHECK(j["devices"][1]["identity_key"] == key_b64(2));
    // An unknown number answers like a registered user without keys: no registration leak.
    auto unknown_keys = http.Get("/v1/keys/15559999", SidecarHarness::auth(b.token));
    CHECK(unknown_keys->status == 200);
    CHECK(body_of(unknown_keys) == json{{"user", "15559999"}, {"devices", json::array()}});
    CHECK(http.Get("/v1/keys/abc", SidecarHarness::auth(b.token))->status == 400);
    CHECK(http.Get("/v1/keys/15550010")->status == 401);
}

TEST_CASE("groups: permissions, the change feed for notices, and membership reaching the broker") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    auto admin = sc.register_device("+15550020");
    auto member = sc.register_device("+15550021");
    auto outsider = sc.register_device("+15550022");
    auto& http = sc.http();
    auto as = [](const Device& d) { return SidecarHarness::auth(d.token); };

    auto created = sc.post_json("/v1/groups", {{"name", "family"}, {"members", {member.user}}}, admin.token);
    REQUIRE(created->status == 201);
    std::string gid = body_of(created)["id"];

    auto info = http.Get(("/v1/groups/" + gid).c_str(), as(member));
    REQUIRE(info->status == 200);
    CHECK(body_of(info)["members"] == json({admin.user, member.user}));
    CHECK(body_of(info)["admins"] == json({admin.user}));
    CHECK(http.Get(("/v1/groups/" + gid).c_str(), as(outsider))->status == 403);
    CHECK(http.Get("/v1/groups/gnothere", as(admin))->status == 404);
    CHECK(http.Get("/v1/groups/bad..id", as(admin))->status == 400);

    // Bad creates change nothing.
    CHECK(sc.post_json("/v1/groups", {{"name", "x"}, {"members", {"15559999"}}}, admin.token)->status == 404);
    CHECK(sc.post_json("/v1/groups", {{"name", "x"}, {"members", "15550021"}}, admin.token)->status == 400);
    CHECK(sc.post_json("/v1/groups", {{"name", ""}}, admin.token)->status == 400);
    CHECK(sc.post_json("/v1/groups", {{"name", "x"}})->status == 401);
    CHECK(count(sc.db_path(), "SELECT COUNT(*) FROM groups") == 1);

    // The outsider may not post to the group until an admin adds them.
    MqttClient out(broker.port(), outsider.client_id);
    REQUIRE(out.connect(outsider.user, outsider.token) == 0);
    CHECK(out.publish("g/" + gid, "hi") == 0x87);
    auto members_path = "/v1/groups/" + gid + "/members";
    CHECK(sc.post_json(members_path, {{"user", outsider.user}}, member.token)->status == 403);
    CHECK(sc.post_json(members_path, {{"user", outsider.user}}, admin.token)->status == 204);
    CHECK(sc.post_json(members_path, {{"user", outsider.user}}, admin.token)->status == 409);
    CHECK(sc.post_json(members_path, {{"user", "15559999"}}, admin.token)->status == 404);
    // A user who blocked the admin cannot be put in a group by them: not later, not at creation.
    auto blocker = sc.register_device("+15550023");
    CHECK(http.Put(("/v1/blocks/" + admin.user).c_str(), as(blocker), "", "application/json")->status == 204);
    auto refused = sc.post_json(members_path, {{"user", blocker.user}}, admin.token);
    CHECK(refused->status == 403);
    CHECK(body_of(refused)["error"] == "user " + blocker.user + " blocked " + admin.user +
                                           ", who therefore cannot add them to a group");
    CHECK(sc.post_json("/v1/groups", {{"name", "x"}, {"members", {blocker.user}}}, admin.token)->status == 403);
    CHECK(publish_until(out, "g/" + gid, false) != 0x87);

    // Members may not remove others; anyone may leave; admins remove.
    CHECK(http.Delete((members_path + "/" + admin.user).c_str(), as(member))->status == 403);
    CHECK(http.Delete((members_path + "/" + member.user).c_str(), as(member))->status == 204);
    CHECK(http.Delete((members_path + "/" + member.user).c_str(), as(admin))->status == 404);
    CHECK(http.Delete((members_path + "/" + outsider.user).c_str(), as(admin))->status == 204);
    CHECK(publish_until(out, "g/" + gid, true) == 0x87);

    // Every change is in the group_events feed the bridge turns into notices, in order.
    chat::storage::Database db(sc.db_path().string());
    chat::storage::Statement feed(db, "SELECT user_id, change FROM group_events WHERE gid = ? ORDER BY id");
    feed.bind(1, gid);
    std::vector<std::string> changes;
    while (feed.step()) changes.push_back(feed.text_at(1) + ":" + feed.text_at(0));
    feed.reset();
    CHECK(changes == std::vector<std::string>{"added:" + admin.user, "added:" + member.user,
                                              "added:" + outsider.user, "removed:" + member.user,
                                              "removed:" + outsider.user});
}

TEST_CASE("blocks refuse an MQTT publish and presence hides from blocked callers and when hidden") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    auto a = sc.register_device("+15550030");
    auto b = sc.register_device("+15550031");
    auto c = sc.register_device("+15550032");
    auto& http = sc.http();
    auto as = [](const Device& d) { return SidecarHarness::auth(d.token); };

    MqttClient bc(broker.port(), b.client_id);
    REQUIRE(bc.connect(b.user, b.token) == 0);
    CHECK(bc.publish("m/" + a.user, "hello") != 0x87);

    CHECK(http.Put(("/v1/blocks/" + b.user).c_str(), as(a), "", "application/json")->status == 204);
    CHECK(publish_until(bc, "m/" + a.user, true) == 0x87);
    CHECK(http.Put("/v1/blocks/15559999", as(a), "", "application/json")->status == 204);  // no registration leak
    CHECK(http.Put(("/v1/blocks/" + a.user).c_str(), as(a), "", "application/json")->status == 400);
    CHECK(http.Put(("/v1/blocks/" + b.user).c_str(), "", "application/json")->status == 401);

    // b is online, c asks: visible. The blocked b asks about a: hidden, like a hidden presence.
    // The broker journals the online flag at CONNECT; it reaches SQLite with the next import.
    json seen;
    for (int i = 0; i < 100; ++i) {
        auto got = http.Get(("/v1/users/" + b.user + "/presence").c_str(), as(c));
        REQUIRE(got->status == 200);
        seen = body_of(got);
        if (seen["online"] == true) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(seen["online"] == true);
    auto blocked = http.Get(("/v1/users/" + a.user + "/presence").c_str(), as(b));
    CHECK(body_of(blocked)["hidden"] == true);
    CHECK(!body_of(blocked).contains("last_seen_ms"));

    bc.disconnect();
    // last seen is stamped by the broker when b's connection closes.
    json after;
    for (int i = 0; i < 100; ++i) {
        after = body_of(http.Get(("/v1/users/" + b.user + "/presence").c_str(), as(c)));
        if (after["online"] == false && after["last_seen_ms"].is_number()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(after["online"] == false);
    CHECK(after["last_seen_ms"].is_number());

    CHECK(http.Put("/v1/presence", as(b), R"({"hidden":"yes"})", "application/json")->status == 400);
    CHECK(http.Put("/v1/presence", as(b), R"({"hidden":true})", "application/json")->status == 204);
    CHECK(body_of(http.Get(("/v1/users/" + b.user + "/presence").c_str(), as(c)))["hidden"] == true);
    // An unknown number answers like a hidden presence: no registration leak.
    auto unknown = http.Get("/v1/users/15559999/presence", as(c));
    CHECK(unknown->status == 200);
    CHECK(body_of(unknown) == json{{"user", "15559999"}, {"hidden", true}});

    CHECK(http.Delete(("/v1/blocks/" + b.user).c_str(), as(a))->status == 204);
    MqttClient bc2(broker.port(), b.client_id);
    REQUIRE(bc2.connect(b.user, b.token) == 0);
    CHECK(publish_until(bc2, "m/" + a.user, false) != 0x87);
}

TEST_CASE("healthz and metrics") {
    SidecarHarness sc;
    auto h = sc.http().Get("/healthz");
    REQUIRE(h->status == 200);
    CHECK(body_of(h)["status"] == "ok");
    auto m = sc.http().Get("/metrics");
    REQUIRE(m->status == 200);
    CHECK(m->get_header_value("Content-Type").rfind("text/plain", 0) == 0);
    auto samples = parse_prometheus(m->body);  // the same scheme and format as the broker's and the bridge's
    CHECK(sample(samples, R"(chat_sidecar_http_requests_total{route="/healthz",status="200"})") == 1);
    CHECK(samples.contains(R"(chat_sidecar_media_uploads_total{result="deduplicated"})"));
}
