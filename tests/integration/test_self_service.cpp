// Integration tests of what a person manages on their own, over real HTTP and MQTT: devices
// (list, name, revoke cutting the live session), push tokens per device through a Matrix-style
// push gateway (a local sink here), mute.
#include "sidecar_harness.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "support/bridge_process.h"
#include "support/broker_fixture.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <thread>

using namespace chat::testing;
using nlohmann::json;

namespace {

httplib::Headers as(const Device& d) { return SidecarHarness::auth(d.token); }

int64_t count(const std::filesystem::path& db, const std::string& sql) {
    chat::storage::Database d(db.string());
    chat::storage::Statement s(d, sql);
    s.step();
    return s.int_at(0);
}

// A local push gateway: records Matrix-shaped notifications and user-level hook posts, and
// answers the pushkeys in `rejecting` as rejected, as a gateway does for a dead token.
struct PushGateway {
    httplib::Server server;
    int port = server.bind_to_any_port("127.0.0.1");
    std::mutex mu;
    std::vector<json> notifications;
    std::vector<json> user_posts;
    std::set<std::string> rejecting;
    std::thread thread;

    PushGateway() {
        server.Post("/_matrix/push/v1/notify", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(mu);
            auto j = json::parse(req.body);
            notifications.push_back(j);
            json rejected = json::array();
            for (auto& d : j["notification"]["devices"]) {
                if (rejecting.contains(d["pushkey"].get<std::string>())) rejected.push_back(d["pushkey"]);
            }
            res.set_content(json{{"rejected", rejected}}.dump(), "application/json");
        });
        server.Post("/push", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(mu);
            user_posts.push_back(json::parse(req.body));
            res.status = 204;
        });
        thread = std::thread([this] { server.listen_after_bind(); });
    }
    ~PushGateway() {
        server.stop();
        thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
    std::vector<json> to(const std::string& pushkey) {
        std::lock_guard lock(mu);
        std::vector<json> out;
        for (auto& n : notifications) {
            if (n["notification"]["devices"][0]["pushkey"] == pushkey) out.push_back(n);
        }
        return out;
    }
    size_t user_pushes(const std::string& user) {
        std::lock_guard lock(mu);
        return static_cast<size_t>(std::count_if(user_posts.begin(), user_posts.end(),
                                                 [&](const json& j) { return j["user"] == user; }));
    }
};

void put_push(SidecarHarness& sc, const Device& d, const json& body) {
    auto r = sc.http().Put(("/v1/devices/" + d.device + "/push").c_str(), as(d), body.dump(), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 204);
}

}  // namespace

TEST_CASE("a user lists and names their devices, and revoking one from another cuts its live session") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    auto phone = sc.register_device("+15551001");
    auto laptop = sc.register_device("+15551001");
    auto other = sc.register_device("+15551002");
    REQUIRE(phone.device == "d1");
    REQUIRE(laptop.device == "d2");
    auto& http = sc.http();

    auto me = http.Get("/v1/me", as(phone));
    REQUIRE(me->status == 200);
    CHECK(body_of(me)["user"] == phone.user);
    CHECK(body_of(me)["device"] == "d1");
    CHECK(body_of(me)["client_id"] == phone.client_id);
    CHECK(body_of(me)["devices"].size() == 2);

    CHECK(http.Patch("/v1/devices/d2", as(phone), R"({"name":"laptop"})", "application/json")->status == 204);
    CHECK(http.Patch("/v1/devices/d2", as(phone), R"({"name":""})", "application/json")->status == 400);
    CHECK(http.Patch("/v1/devices/d9", as(phone), R"({"name":"x"})", "application/json")->status == 404);
    auto list = body_of(http.Get("/v1/devices", as(laptop)))["devices"];
    REQUIRE(list.size() == 2);
    CHECK(list[0]["device"] == "d1");
    CHECK(list[0]["current"] == false);
    CHECK(list[0]["name"].is_null());
    CHECK(list[1]["name"] == "laptop");
    CHECK(list[1]["current"] == true);

    MqttClient live(broker.port(), laptop.client_id);
    REQUIRE(live.connect(laptop.user, laptop.token) == 0);

    // Another user's device is not mine to revoke: it looks like no device at all.
    CHECK(http.Delete("/v1/devices/d2", as(other))->status == 404);
    CHECK(live.connected());

    CHECK(http.Delete("/v1/devices/d2", as(phone))->status == 204);
    CHECK(eventually([&] { return !live.connected(); }, std::chrono::seconds(5)));
    CHECK(http.Get("/v1/me", as(laptop))->status == 401);
    CHECK(MqttClient(broker.port(), laptop.client_id).connect(laptop.user, laptop.token) != 0);
    CHECK(http.Delete("/v1/devices/d2", as(phone))->status == 404);
    CHECK(body_of(http.Get("/v1/devices", as(phone)))["devices"].size() == 1);

    // A device may revoke itself (a "log out"): its own token stops at once.
    CHECK(http.Delete("/v1/devices/d1", as(phone))->status == 204);
    CHECK(http.Get("/v1/devices", as(phone))->status == 401);
}

TEST_CASE("push goes to each offline device's token in the gateway's shape, not for a muted conversation, and drops a rejected token") {
    PushGateway gateway;
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    auto alice = sc.register_device("+15551101");
    auto bob_phone = sc.register_device("+15551102");
    auto bob_tablet = sc.register_device("+15551102");
    auto carol = sc.register_device("+15551103");  // no token: the user-level hook
    auto dave = sc.register_device("+15551104");
    auto erin = sc.register_device("+15551105");
    put_push(sc, bob_phone, {{"provider", "fcm"}, {"token", "fcm-bob-phone"}});
    put_push(sc, bob_tablet, {{"provider", "apns"}, {"token", "apns-bob-tablet"}, {"app_id", "com.example.chat"}});
    put_push(sc, dave, {{"provider", "fcm"}, {"token", "fcm-dave"}});
    put_push(sc, erin, {{"provider", "webpush"}, {"token", "webpush-erin-gone"}});
    gateway.rejecting.insert("webpush-erin-gone");
    auto& http = sc.http();
    CHECK(http.Put(("/v1/devices/d1/push"), as(carol), R"({"provider":"sms","token":"x"})", "application/json")->status ==
          400);
    CHECK(http.Put(("/v1/devices/d7/push"), as(carol), R"({"provider":"fcm","token":"x"})", "application/json")->status ==
          404);
    // Dave mutes his conversation with alice; every device of his sees it.
    auto muted = http.Put(("/v1/conversations/" + alice.user).c_str(), as(dave), R"({"muted":true})", "application/json");
    REQUIRE(muted->status == 200);
    CHECK(body_of(muted) == json{{"conversation", alice.user}, {"muted", true}, {"archived", false}});
    CHECK(body_of(http.Get("/v1/conversations", as(dave)))["conversations"][0]["conversation"] == alice.user);

    BridgeProcess bridge(broker, {"--push-gateway", gateway.url(), "--push-url", gateway.url() + "/push",
                                  "--push-debounce-ms", "60000"});
    MqttClient a(broker.port(), alice.client_id);
    REQUIRE(a.connect(alice.user, alice.token) == 0);
    for (int i = 0; i < 3; ++i) REQUIRE(a.publish("m/" + bob_phone.user, "secret text " + std::to_string(i)) == 0);
    REQUIRE(a.publish("m/" + dave.user, "muted") == 0);
    REQUIRE(a.publish("m/" + erin.user, "to a dead token") == 0);
    // One bridge handles its signals in order: once carol's push arrived, all the others were seen.
    REQUIRE(a.publish("m/" + carol.user, "marker") == 0);
    REQUIRE(eventually([&] { return gateway.user_pushes(carol.user) == 1; }));

    auto phone = gateway.to("fcm-bob-phone");
    auto tablet = gateway.to("apns-bob-tablet");
    CHECK(phone.size() == 1);  // three messages, one push per device within the window
    REQUIRE(tablet.size() == 1);
    const auto& n = tablet[0]["notification"];
    CHECK(n["devices"][0]["app_id"] == "com.example.chat");
    CHECK(n["devices"][0]["pushkey_ts"].is_number_integer());
    CHECK(n["devices"][0]["data"] == json{{"provider", "apns"}});
    CHECK(n["counts"]["unread"].get<int>() >= 1);
    CHECK(n["prio"] == "high");
    CHECK(tablet[0].dump().find("secret") == std::string::npos);  // no content
    CHECK(phone[0]["notification"]["devices"][0]["app_id"] == "chat.fcm");
    CHECK(gateway.to("fcm-dave").empty());
    CHECK(gateway.user_pushes(bob_phone.user) == 0);  // bob's devices have tokens: no user-level push
    CHECK(gateway.to("webpush-erin-gone").size() == 1);
    CHECK(eventually([&] {
        return count(broker.db_path(), "SELECT COUNT(*) FROM push_tokens WHERE pushkey = 'webpush-erin-gone'") == 0;
    }));
    CHECK(count(broker.db_path(), "SELECT COUNT(*) FROM push_tokens") == 3);

    // Revoking a device forgets its token.
    CHECK(http.Delete("/v1/devices/d2", as(bob_phone))->status == 204);
    CHECK(count(broker.db_path(), "SELECT COUNT(*) FROM push_tokens WHERE pushkey = 'apns-bob-tablet'") == 0);
}

namespace {

// The notices stored in `user`'s inbox, as their JSON bodies.
std::vector<json> notices_of(const std::filesystem::path& db_path, const std::string& user) {
    chat::storage::Database db(db_path.string());
    std::vector<json> out;
    for (const auto& e : chat::storage::Inbox(db).entries_after(user, 0, 1'000'000)) {
        if (e.kind == "notice") out.push_back(json::parse(e.body));
    }
    return out;
}

bool has_notice(const std::filesystem::path& db, const std::string& user, const std::function<bool(const json&)>& match) {
    auto all = notices_of(db, user);
    return std::any_of(all.begin(), all.end(), match);
}

int publish_until(MqttClient& c, const std::string& topic, bool want_refused) {
    int rc = 0;
    eventually([&] {
        rc = c.publish(topic, "hi");
        return (rc == 0x87) == want_refused;
    }, std::chrono::seconds(5));
    return rc;
}

}  // namespace

TEST_CASE("group admins rename, promote and switch to admins-only sending, and every change is a notice naming the actor") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    BridgeProcess bridge(broker);
    auto ann = sc.register_device("+15551201");
    auto ben = sc.register_device("+15551202");
    auto& http = sc.http();
    auto created = sc.post_json("/v1/groups", {{"name", "climbing"}, {"members", {ben.user}}}, ann.token);
    REQUIRE(created->status == 201);
    std::string gid = body_of(created)["id"];
    std::string path = "/v1/groups/" + gid;

    auto mine = body_of(http.Get("/v1/groups", as(ben)))["groups"];
    REQUIRE(mine.size() == 1);
    CHECK(mine[0] == json{{"id", gid}, {"name", "climbing"}, {"admin", false}, {"members", 2}});

    // Settings are for admins by default; the switches always are.
    auto patch = [&](const Device& d, const json& body) {
        return http.Patch(path.c_str(), as(d), body.dump(), "application/json")->status;
    };
    CHECK(patch(ben, {{"name", "mine now"}}) == 403);
    CHECK(patch(ann, {{"name", ""}}) == 400);
    CHECK(patch(ann, json::object()) == 400);
    CHECK(patch(ann, {{"name", "climbing club"}, {"description", "Tuesdays"}}) == 204);
    CHECK(http.Put((path + "/admins/" + ben.user).c_str(), as(ben), "", "application/json")->status == 403);
    CHECK(http.Put((path + "/admins/" + ben.user).c_str(), as(ann), "", "application/json")->status == 204);
    CHECK(http.Put((path + "/admins/" + ben.user).c_str(), as(ann), "", "application/json")->status == 409);
    CHECK(patch(ben, {{"admins_only_send", true}}) == 204);
    CHECK(http.Delete((path + "/admins/" + ann.user).c_str(), as(ann))->status == 204);
    CHECK(http.Delete((path + "/admins/" + ben.user).c_str(), as(ben))->status == 409);  // the last admin

    auto info = body_of(http.Get(path.c_str(), as(ann)));
    CHECK(info["name"] == "climbing club");
    CHECK(info["description"] == "Tuesdays");
    CHECK(info["admins"] == json{ben.user});
    CHECK(info["admins_only_send"] == true);

    // Ann is no admin any more: the broker refuses her group publish; Ben's goes through.
    MqttClient a(broker.port(), ann.client_id);
    REQUIRE(a.connect(ann.user, ann.token) == 0);
    CHECK(publish_until(a, "g/" + gid, true) == 0x87);
    MqttClient b(broker.port(), ben.client_id);
    REQUIRE(b.connect(ben.user, ben.token) == 0);
    CHECK(b.publish("g/" + gid, "hi") == 0);

    auto db = broker.db_path();
    CHECK(eventually([&] {
        return has_notice(db, ben.user, [&](const json& n) {
            return n["by"] == ann.user && n.contains("changed") && n["changed"]["name"] == "climbing club" &&
                   n["changed"]["description"] == "Tuesdays";
        });
    }));
    CHECK(eventually([&] {
        return has_notice(db, ann.user, [&](const json& n) {
            return n["by"] == ann.user && n.value("promoted", json::array()) == json{ben.user};
        });
    }));
    CHECK(eventually([&] {
        return has_notice(db, ann.user, [&](const json& n) {
            return n["by"] == ben.user && n["name"] == "climbing club" && n.contains("changed") &&
                   n["changed"]["admins_only_send"] == true;
        });
    }));
    CHECK(eventually([&] {
        return has_notice(db, ben.user, [&](const json& n) {
            return n["by"] == ann.user && n.value("added", json::array()).size() == 2;
        });
    }));
}

TEST_CASE("profile fields show per visibility setting, and a blocked viewer and an unknown number see nothing") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    auto owner = sc.register_device("+15551301");
    auto friend_ = sc.register_device("+15551302");   // shares a group with owner: a contact
    auto stranger = sc.register_device("+15551303");
    auto blocked = sc.register_device("+15551304");   // a contact, but blocked by owner
    auto& http = sc.http();
    REQUIRE(sc.post_json("/v1/groups", {{"name", "pals"}, {"members", {friend_.user, blocked.user}}}, owner.token)
                ->status == 201);
    auto put = [&](const json& body) { return http.Put("/v1/profile", as(owner), body.dump(), "application/json"); };
    auto saved = put({{"display_name", "Olga"},
                      {"about", "at work"},
                      {"avatar", "abc123"},
                      {"visibility", {{"about", "contacts"}, {"avatar", "nobody"}, {"last_seen", "contacts"}}}});
    REQUIRE(saved->status == 200);
    CHECK(body_of(saved)["visibility"]["about"] == "contacts");
    CHECK(put({{"visibility", {{"about", "friends"}}}})->status == 400);
    CHECK(put({{"display_name", std::string(65, 'x')}})->status == 400);
    CHECK(http.Put(("/v1/blocks/" + blocked.user).c_str(), as(owner), "", "application/json")->status == 204);

    auto view = [&](const Device& viewer, const std::string& user) {
        auto r = http.Get(("/v1/users/" + user + "/profile").c_str(), as(viewer));
        REQUIRE(r->status == 200);
        return body_of(r);
    };
    CHECK(view(friend_, owner.user) == json{{"user", owner.user}, {"display_name", "Olga"}, {"about", "at work"}});
    CHECK(view(stranger, owner.user) == json{{"user", owner.user}, {"display_name", "Olga"}});
    CHECK(view(blocked, owner.user) == json{{"user", owner.user}});
    CHECK(view(owner, owner.user)["avatar"] == "abc123");  // the owner sees everything
    // An unknown number answers exactly like a registered user who set nothing.
    CHECK(view(stranger, "15559999") == json{{"user", "15559999"}});
    CHECK(view(stranger, friend_.user) == json{{"user", friend_.user}});

    // Last seen for contacts only: the stranger gets the same answer as for a hidden presence.
    CHECK(body_of(http.Get(("/v1/users/" + owner.user + "/presence").c_str(), as(stranger)))["hidden"] == true);
    CHECK(body_of(http.Get(("/v1/users/" + owner.user + "/presence").c_str(), as(friend_))).contains("online"));
}

TEST_CASE("discovery answers only registered numbers, is capped per request and refused past the daily limit") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path(), [](chat::sidecar::SidecarConfig& c) {
        c.discover_per_request = 4;
        c.discover_per_device = {6, 24 * 60 * 60 * 1000};
    });
    auto me = sc.register_device("+15551401");
    auto known = sc.register_device("+15551402");
    auto discover = [&](const json& phones) { return sc.post_json("/v1/contacts/discover", {{"phones", phones}}, me.token); };

    auto r = discover({"+15551402", "15559998", "+15559997"});
    REQUIRE(r->status == 200);
    CHECK(body_of(r) == json{{"registered", {{{"phone", "+15551402"}, {"user", known.user}}}}});
    CHECK(discover({"1", "2", "3", "4", "5"})->status == 400);  // over the per-request cap
    CHECK(discover({"not a number"})->status == 400);
    CHECK(discover({"15559996", "15559995", "15559994"})->status == 200);  // 6 numbers today
    auto refused = discover({"15551402"});
    CHECK(refused->status == 429);
    CHECK(refused->has_header("Retry-After"));
    CHECK(sc.post_json("/v1/contacts/discover", {{"phones", {"15551402"}}}, known.token)->status == 200);  // per device
}

TEST_CASE("who can add me to groups: nobody, contacts only, and a user who blocked you can never be added by you") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    auto admin = sc.register_device("+15551501");
    auto shy = sc.register_device("+15551502");
    auto picky = sc.register_device("+15551503");
    auto blocker = sc.register_device("+15551504");
    auto& http = sc.http();
    auto privacy = [&](const Device& d, const char* who) {
        return http.Put("/v1/profile", as(d), json{{"group_adds", who}}.dump(), "application/json")->status;
    };
    REQUIRE(privacy(shy, "nobody") == 200);
    REQUIRE(privacy(picky, "contacts") == 200);
    CHECK(privacy(picky, "some") == 400);
    REQUIRE(http.Put(("/v1/blocks/" + admin.user).c_str(), as(blocker), "", "application/json")->status == 204);

    auto g = sc.post_json("/v1/groups", {{"name", "x"}}, admin.token);
    REQUIRE(g->status == 201);
    std::string members = "/v1/groups/" + body_of(g)["id"].get<std::string>() + "/members";
    CHECK(sc.post_json(members, {{"user", shy.user}}, admin.token)->status == 403);
    CHECK(sc.post_json(members, {{"user", picky.user}}, admin.token)->status == 403);  // not a contact yet
    CHECK(sc.post_json(members, {{"user", blocker.user}}, admin.token)->status == 403);
    CHECK(sc.post_json("/v1/groups", {{"name", "y"}, {"members", {shy.user}}}, admin.token)->status == 403);

    // Once they share a group (the picky user's own), the admin is a contact and may add them.
    auto own = sc.post_json("/v1/groups", {{"name", "picky's"}, {"members", {admin.user}}}, picky.token);
    REQUIRE(own->status == 201);
    CHECK(sc.post_json(members, {{"user", picky.user}}, admin.token)->status == 204);
    // The operator is not bound by the setting.
    CHECK(broker.chatctl({"group", "add", body_of(g)["id"].get<std::string>(), shy.user}) == 0);
}

TEST_CASE("a profile change reaches the user's contacts as a stored notice and nobody else") {
    BrokerFixture broker;
    SidecarHarness sc(broker.db_path());
    BridgeProcess bridge(broker);
    auto owner = sc.register_device("+15551601");
    auto pal = sc.register_device("+15551602");
    auto stranger = sc.register_device("+15551603");
    REQUIRE(sc.post_json("/v1/groups", {{"name", "pals"}, {"members", {pal.user}}}, owner.token)->status == 201);
    auto put = [&](const json& body) {
        return sc.http().Put("/v1/profile", as(owner), body.dump(), "application/json")->status;
    };
    REQUIRE(put({{"display_name", "Olga"}}) == 200);
    REQUIRE(put({{"visibility", {{"about", "nobody"}}}}) == 200);  // a setting alone tells nobody
    auto db = broker.db_path();
    auto profile_notices = [&](const std::string& user) {
        auto all = notices_of(db, user);
        return std::count_if(all.begin(), all.end(), [&](const json& n) { return n.value("profile", "") == owner.user; });
    };
    REQUIRE(eventually([&] { return profile_notices(pal.user) == 1; }));
    // A later change is a second notice; once the pal has it, the first change was handled for everyone.
    REQUIRE(put({{"about", "hi"}}) == 200);
    REQUIRE(eventually([&] { return profile_notices(pal.user) == 2; }));
    CHECK(profile_notices(stranger.user) == 0);
    CHECK(profile_notices(owner.user) == 0);
}
