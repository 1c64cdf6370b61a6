// Integration tests of broadcast lists: CRUD on the real sidecar, one publish through the real
// broker and bridge becoming a 1:1 message per member, checked in the real SQLite file.
#include "common/entry.h"
#include "sidecar_harness.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/social.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

constexpr int not_authorized = 0x87;
const std::string alice = "15550001", bob = "15550002", carol = "15550003", dave = "15550004";

std::vector<chat::Entry> stored(const BrokerFixture& broker, const std::string& user) {
    chat::storage::Database db(broker.db_path().string());
    return chat::storage::Inbox(db).entries_after(user, 0, 1'000'000);
}

size_t count_of(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("broadcast lists: only the owner sees and changes them") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    broker.add_device(carol, "d1");
    SidecarHarness sidecar(broker.db_path());
    auto created = sidecar.post_json("/v1/lists", {{"name", "family"}, {"members", {bob, carol}}}, ta);
    REQUIRE(created);
    REQUIRE(created->status == 201);
    std::string id = nlohmann::json::parse(created->body)["id"];
    CHECK(id[0] == 'l');
    auto mine = sidecar.http().Get("/v1/lists", SidecarHarness::auth(ta));
    REQUIRE(mine->status == 200);
    auto lists = nlohmann::json::parse(mine->body);
    REQUIRE(lists.size() == 1);
    CHECK(lists[0]["name"] == "family");
    CHECK(lists[0]["members"] == nlohmann::json({bob, carol}));
    CHECK(sidecar.http().Get(("/v1/lists/" + id).c_str(), SidecarHarness::auth(tb))->status == 404);
    CHECK(sidecar.post_json("/v1/lists", {{"name", "x"}, {"members", {"15559999"}}}, ta)->status == 404);
    CHECK(sidecar.post_json("/v1/lists", {{"name", "x"}, {"members", {alice}}}, ta)->status == 400);
    CHECK(sidecar.post_json("/v1/lists/" + id + "/members", {{"user", bob}}, ta)->status == 409);
    CHECK(sidecar.post_json("/v1/lists/" + id + "/members", {{"user", carol}}, tb)->status == 404);
    CHECK(sidecar.http().Delete(("/v1/lists/" + id + "/members/" + carol).c_str(), SidecarHarness::auth(ta))->status == 204);
    auto one = nlohmann::json::parse(sidecar.http().Get(("/v1/lists/" + id).c_str(), SidecarHarness::auth(ta))->body);
    CHECK(one["members"] == nlohmann::json({bob}));

    // The owner may publish to the list; deleting it takes that away from a live connection too.
    MqttClient a(broker.port(), alice + "/d1");
    REQUIRE(a.connect(alice, ta) == 0);
    MqttClient b(broker.port(), bob + "/d1");
    REQUIRE(b.connect(bob, tb) == 0);
    CHECK(b.publish("l/" + id, "not bob's list") == not_authorized);
    CHECK(a.publish("l/" + id, "hello") == 0);
    CHECK(sidecar.http().Delete(("/v1/lists/" + id).c_str(), SidecarHarness::auth(ta))->status == 204);
    CHECK(eventually([&] { return a.publish("l/" + id, "after delete") == not_authorized; }, 5s));
}

TEST_CASE("one publish to a broadcast list becomes a 1:1 message per member, skipping who blocked the sender") {
    BrokerFixture broker;
    auto ta = broker.add_device(alice, "d1");
    auto tb = broker.add_device(bob, "d1");
    broker.add_device(carol, "d1");
    broker.add_device(dave, "d1");
    {
        chat::storage::Database db(broker.db_path().string());
        chat::storage::Blocks(db).block(dave, alice);
    }
    SidecarHarness sidecar(broker.db_path());
    auto created = sidecar.post_json("/v1/lists", {{"name", "all"}, {"members", {bob, carol, dave}}}, ta);
    REQUIRE(created->status == 201);
    std::string id = nlohmann::json::parse(created->body)["id"];
    BridgeProcess bridge(broker);
    // Bob has an entry already, so his copy's seq differs from carol's.
    MqttClient a(broker.port(), alice + "/d1");
    REQUIRE(a.connect(alice, ta) == 0);
    MqttClient b(broker.port(), bob + "/d1");
    REQUIRE(b.connect(bob, tb) == 0);
    REQUIRE(b.subscribe("u/" + bob + "/i") == 1);
    REQUIRE(a.publish("m/" + bob, "first") == 0);
    REQUIRE(b.next());

    REQUIRE(a.publish("l/" + id, "to everyone") == 0);
    auto live = b.next(10s);
    REQUIRE(live);
    auto entry = chat::entry_from_json(live->payload);
    CHECK(entry.kind == "msg");
    CHECK(entry.from == alice);
    CHECK(entry.to == bob);
    CHECK(entry.gid.empty());
    CHECK(entry.body == "to everyone");

    REQUIRE(eventually([&] { return stored(broker, carol).size() == 1 && stored(broker, bob).size() == 2; }));
    auto to_bob = stored(broker, bob)[1];
    auto to_carol = stored(broker, carol)[0];
    CHECK(to_bob.seq == 2);
    CHECK(to_carol.seq == 1);
    CHECK(to_carol.to == carol);
    CHECK(to_carol.body == "to everyone");
    CHECK(to_bob.id == to_carol.id);
    CHECK(stored(broker, dave).empty());  // one batch stored bob's and carol's: dave was left out
    auto own = stored(broker, alice);
    REQUIRE(own.size() == 2);
    CHECK(own[1].kind == "sent");
    CHECK(own[1].to == id);
    CHECK(own[1].id == to_bob.id);
    // One uplink publish for the list, whatever its size.
    CHECK(count_of(broker.log(), "Received PUBLISH from " + alice + "/d1") == 2);  // "first" and the list's
    // Receipts are 1:1: bob can read-receipt the copy he got.
    CHECK(b.publish("r/" + alice, nlohmann::json{{"read", {to_bob.id}}}.dump()) == 0);
}
