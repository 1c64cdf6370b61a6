// Integration tests of the sidecar's --cluster answers over real HTTP: the verify answer and
// GET /v1/me name the user's live home node (nodes registered as their leases would be), a
// dead node's users move, and with no live node the sidecar refuses with 503.
#include "sidecar_harness.h"

#include "common/identity.h"
#include "storage/cluster.h"
#include "storage/db.h"

#include <catch2/catch.hpp>

using namespace chat::testing;
using nlohmann::json;

namespace {

constexpr int64_t lease_ms = 60'000;

httplib::Result verify(SidecarHarness& sc, const std::string& phone, const std::string& code) {
    return sc.post_json("/v1/verify", {{"phone", phone}, {"code", code}});
}

}  // namespace

TEST_CASE("with --cluster, verify and GET /v1/me name the user's live home node, which moves off a dead node") {
    SidecarHarness sc({}, [](chat::sidecar::SidecarConfig& c) { c.cluster = true; });
    chat::storage::Database db(sc.db_path().string());
    chat::storage::Cluster cluster(db);
    const std::string phone = "+15550001";
    REQUIRE(sc.post_json("/v1/register", {{"phone", phone}})->status == 202);
    auto code = sc.code_for(phone);
    REQUIRE(code);

    // No node has a lease yet: refused before the code is spent.
    auto refused = verify(sc, phone, *code);
    REQUIRE(refused->status == 503);
    CHECK(body_of(refused)["error"].get<std::string>().find("no broker node") != std::string::npos);
    CHECK(refused->get_header_value("Retry-After") == "5");

    cluster.renew_lease("n1", "127.0.0.1:1883", chat::now_ms(), lease_ms);
    auto v = verify(sc, phone, *code);  // the same code still works
    REQUIRE(v->status == 200);
    auto device = body_of(v);
    CHECK(device["node"] == json{{"id", "n1"}, {"address", "127.0.0.1:1883"}});
    auto token = device["token"].get<std::string>();

    auto me = sc.http().Get("/v1/me", SidecarHarness::auth(token));
    REQUIRE(me->status == 200);
    CHECK(body_of(me)["node"] == json{{"id", "n1"}, {"address", "127.0.0.1:1883"}});
    CHECK(body_of(me)["user"] == device["user"]);

    // A second node starts: the user stays where they are while n1 lives.
    cluster.renew_lease("n2", "127.0.0.1:1884", chat::now_ms(), lease_ms);
    CHECK(body_of(sc.http().Get("/v1/me", SidecarHarness::auth(token)))["node"]["id"] == "n1");

    // n1's lease ends: the next GET /v1/me moves the user to the live node.
    cluster.release_lease("n1", chat::now_ms());
    me = sc.http().Get("/v1/me", SidecarHarness::auth(token));
    REQUIRE(me->status == 200);
    CHECK(body_of(me)["node"] == json{{"id", "n2"}, {"address", "127.0.0.1:1884"}});
    CHECK(cluster.home_of(device["user"], chat::now_ms())->node == "n2");

    // No node is live: nowhere to send the phone.
    cluster.release_lease("n2", chat::now_ms());
    me = sc.http().Get("/v1/me", SidecarHarness::auth(token));
    CHECK(me->status == 503);
    CHECK(body_of(me).contains("error"));
}

TEST_CASE("without --cluster the answers carry no node") {
    SidecarHarness sc;
    auto d = sc.register_device("+15550002");
    auto me = sc.http().Get("/v1/me", SidecarHarness::auth(d.token));
    REQUIRE(me->status == 200);
    CHECK_FALSE(body_of(me).contains("node"));
    auto code_phone = "+15550003";
    REQUIRE(sc.post_json("/v1/register", {{"phone", code_phone}})->status == 202);
    auto v = verify(sc, code_phone, *sc.code_for(code_phone));
    REQUIRE(v->status == 200);
    CHECK_FALSE(body_of(v).contains("node"));
}
