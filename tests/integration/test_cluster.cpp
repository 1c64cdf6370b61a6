// Integration tests of several broker nodes (issue 16): three mosquitto+plugin nodes over one
// PostgreSQL database, bridges with --cluster, real MQTT clients; kill -9 of a node under load.
#include "common/entry.h"
#include "common/identity.h"
#include "sidecar_harness.h"
#include "storage/inbox.h"
#include "support/cluster_fixture.h"
#include "support/mosq_device.h"
#include "support/entry_wait.h"
#include "support/mqtt_client.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

using namespace chat::testing;
using namespace std::chrono_literals;

namespace {

// One device of a user, connected to the user's home node.
struct Phone {
    ClusterDevice id;
    std::unique_ptr<MqttClient> client;
};

Phone connect(ClusterFixture& cluster, const ClusterDevice& d, const std::vector<std::string>& topics) {
    Phone p{d, std::make_unique<MqttClient>(cluster.home_port(d.user), d.client_id())};
    REQUIRE(p.client->connect(d.user, d.token) == 0);
    for (const auto& t : topics) REQUIRE(p.client->subscribe(t) == 1);
    return p;
}

// The documented client rule after the home moved: ask for the home again (settle_home, as
// GET /v1/me does) and connect there, with a back-off while it refuses (the new home takes the
// user once its permission refresh has seen the move, within plugin_opt_acl_refresh_ms).
Phone reconnect(ClusterFixture& cluster, const ClusterDevice& d, const std::vector<std::string>& topics) {
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto client = std::make_unique<MqttClient>(cluster.home_port(d.user), d.client_id());
        if (client->connect(d.user, d.token) == 0) {
            for (const auto& t : topics) REQUIRE(client->subscribe(t) == 1);
            return Phone{d, std::move(client)};
        }
        std::this_thread::sleep_for(250ms);
    }
    FAIL("no home of " << d.user << " took its device");
    return {};
}

std::vector<chat::Entry> stored(ClusterFixture& cluster, const std::string& user) {
    return chat::storage::Inbox(cluster.database()).entries_after(user, 0, 1'000'000);
}

size_t count_kind(const std::vector<chat::Entry>& entries, const std::string& kind) {
    return static_cast<size_t>(std::count_if(entries.begin(), entries.end(), [&](auto& e) { return e.kind == kind; }));
}

// Next message on exactly `topic` (others are skipped).
std::optional<Received> next_on(MqttClient& client, const std::string& topic, std::chrono::milliseconds timeout = 15s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto m = client.next(left);
        if (!m) break;
        if (m->topic == topic) return m;
    }
    return std::nullopt;
}

// Seqs 1..N with no gap and no repeat.
bool gap_free(const std::vector<chat::Entry>& entries) {
    for (size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].seq != static_cast<int64_t>(i + 1)) return false;
    }
    return true;
}

// A device's sync from 0 on its home node: every entry replayed on its device topic, in order.
std::vector<chat::Entry> sync_all(ClusterFixture& cluster, const ClusterDevice& d, size_t expected) {
    Phone p = reconnect(cluster, d, {"u/" + d.user + "/d/" + d.device});
    REQUIRE(p.client->publish("s/" + d.user, R"({"after":0})") == 0);
    std::vector<chat::Entry> got;
    for (auto& m : p.client->collect(expected, 30s)) got.push_back(chat::entry_from_json(m.payload));
    return got;
}

std::vector<std::string> ids_of(const std::vector<chat::Entry>& entries) {
    std::vector<std::string> ids;
    for (const auto& e : entries) ids.push_back(e.id);
    return ids;
}

}  // namespace

TEST_CASE("a direct message crosses nodes, and its delivered and read receipts come back to the sender") {
    ClusterFixture cluster;
    auto alice = cluster.add_user_on("n1");
    auto bob = cluster.add_user_on("n2");
    auto a = connect(cluster, alice, {"u/" + alice.user + "/i"});
    auto b = connect(cluster, bob, {"u/" + bob.user + "/i"});

    REQUIRE(a.client->publish("m/" + bob.user, "hello across") == 0);
    auto got = next_entry(*b.client, {"msg"}, 15s);
    REQUIRE(got);
    CHECK(got->body == "hello across");
    CHECK(got->from == alice.user);
    CHECK(got->seq == 1);  // bob's home allocated bob's first seq

    REQUIRE(b.client->publish("k/" + bob.user, nlohmann::json{{"seq", got->seq}}.dump()) == 0);
    auto delivered = next_receipt(*a.client, 15s);
    CHECK(delivered["from"] == bob.user);
    CHECK(delivered["delivered"] == nlohmann::json::array({got->id}));

    REQUIRE(b.client->publish("r/" + alice.user, nlohmann::json{{"read", {got->id}}}.dump()) == 0);
    auto read = next_receipt(*a.client, 15s);
    CHECK(read["from"] == bob.user);
    CHECK(read["read"] == nlohmann::json::array({got->id}));

    // Alice's inbox, kept by n1: her sent copy (same id) and both receipts, seqs 1..3.
    REQUIRE(eventually([&] { return stored(cluster, alice.user).size() == 3; }));
    auto mine = stored(cluster, alice.user);
    CHECK(gap_free(mine));
    CHECK(mine[0].kind == "sent");
    CHECK(mine[0].id == got->id);
    CHECK(count_kind(mine, "receipt") == 2);
    auto theirs = stored(cluster, bob.user);
    REQUIRE(theirs.size() == 1);
    CHECK(theirs[0].id == got->id);
}

TEST_CASE("a group with members on all three nodes: every member gets every message once, with its own seq") {
    ClusterFixture cluster;
    auto alice = cluster.add_user_on("n1");
    auto bob = cluster.add_user_on("n2");
    auto carol = cluster.add_user_on("n3");
    REQUIRE(cluster.chatctl({"group", "create", "gteam", "team", alice.user, bob.user, carol.user}) == 0);
    auto a = connect(cluster, alice, {"u/" + alice.user + "/i"});
    auto b = connect(cluster, bob, {"u/" + bob.user + "/i"});
    auto c = connect(cluster, carol, {"u/" + carol.user + "/i"});

    REQUIRE(a.client->publish("g/gteam", "from n1") == 0);
    auto at_b = next_entry(*b.client, {"msg"}, 15s);
    auto at_c = next_entry(*c.client, {"msg"}, 15s);
    REQUIRE(at_b);
    REQUIRE(at_c);
    CHECK(at_b->body == "from n1");
    CHECK(at_c->body == "from n1");
    CHECK(at_b->gid == "gteam");
    CHECK(at_b->id == at_c->id);

    REQUIRE(c.client->publish("g/gteam", "from n3") == 0);
    auto reply_a = next_entry(*a.client, {"msg"}, 15s);
    auto reply_b = next_entry(*b.client, {"msg"}, 15s);
    REQUIRE(reply_a);
    REQUIRE(reply_b);
    CHECK(reply_a->body == "from n3");
    CHECK(reply_b->body == "from n3");
    CHECK(reply_a->from == carol.user);

    // Every inbox: the creation notice, then one copy of each message (sent for one's own).
    // (The notice comes from the bridge's scan of group changes, maybe after the messages.)
    for (const auto& [user, msgs, sents] : {std::tuple{alice.user, 1, 1}, {bob.user, 2, 0}, {carol.user, 1, 1}}) {
        INFO(user);
        CHECK(eventually([&, user = user] { return stored(cluster, user).size() == 3; }));
        auto entries = stored(cluster, user);
        CHECK(gap_free(entries));
        CHECK(count_kind(entries, "msg") == static_cast<size_t>(msgs));
        CHECK(count_kind(entries, "sent") == static_cast<size_t>(sents));
        CHECK(count_kind(entries, "notice") == 1);
    }
}

TEST_CASE("presence and typing reach watchers on other nodes, and a retained presence a late watcher") {
    ClusterFixture cluster;
    auto alice = cluster.add_user_on("n1");
    auto bob = cluster.add_user_on("n2");
    auto carol = cluster.add_user_on("n3");
    auto a = connect(cluster, alice, {});
    auto b = connect(cluster, bob, {"p/" + alice.user, "u/" + bob.user + "/e"});

    REQUIRE(a.client->publish("p/" + alice.user, "online", 1, {}, true) == 0);
    auto presence = next_on(*b.client, "p/" + alice.user);
    REQUIRE(presence);
    CHECK(presence->payload == "online");

    CHECK(a.client->publish("t/" + bob.user, "typing", 0) == 0);
    auto typing = next_on(*b.client, "u/" + bob.user + "/e");
    REQUIRE(typing);
    auto event = nlohmann::json::parse(typing->payload);
    CHECK(event["kind"] == "typing");
    CHECK(event["from"] == alice.user);
    CHECK(event["body"] == "typing");

    // Carol subscribes on n3 only now: n3 holds alice's presence as retained.
    auto c = connect(cluster, carol, {"p/" + alice.user});
    auto late = next_on(*c.client, "p/" + alice.user);
    REQUIRE(late);
    CHECK(late->payload == "online");
    // Neither relay stored anything.
    CHECK(stored(cluster, bob.user).empty());
}

TEST_CASE("a user's sync replays, in seq order, messages that came from every node") {
    ClusterFixture cluster;
    auto alice = cluster.add_user_on("n1");
    auto bob = cluster.add_user_on("n2");
    auto carol = cluster.add_user_on("n3");
    auto dave = cluster.add_user_on("n2");
    {
        auto a = connect(cluster, alice, {});
        auto c = connect(cluster, carol, {});
        auto d = connect(cluster, dave, {});
        REQUIRE(a.client->publish("m/" + bob.user, "from n1") == 0);
        REQUIRE(c.client->publish("m/" + bob.user, "from n3") == 0);
        REQUIRE(d.client->publish("m/" + bob.user, "from n2") == 0);
    }
    REQUIRE(eventually([&] { return stored(cluster, bob.user).size() == 3; }, 30s));

    auto replay = sync_all(cluster, bob, 3);
    REQUIRE(replay.size() == 3);
    std::multiset<std::string> bodies, senders;
    for (size_t i = 0; i < replay.size(); ++i) {
        CHECK(replay[i].seq == static_cast<int64_t>(i + 1));
        bodies.insert(replay[i].body);
        senders.insert(replay[i].from);
    }
    CHECK(bodies == std::multiset<std::string>{"from n1", "from n2", "from n3"});
    CHECK(senders == std::multiset<std::string>{alice.user, carol.user, dave.user});
    CHECK(ids_of(replay) == ids_of(stored(cluster, bob.user)));
}

TEST_CASE("two bridges share the cross-node work: each message is stored once, and one bridge's death loses nothing") {
    ClusterOptions options;
    options.bridges = 2;
    ClusterFixture cluster(options);
    auto alice = cluster.add_user_on("n1");
    auto bob = cluster.add_user_on("n2");
    auto carol = cluster.add_user_on("n3");
    REQUIRE(cluster.chatctl({"group", "create", "gpair", "pair", alice.user, bob.user, carol.user}) == 0);
    auto a = connect(cluster, alice, {});
    auto b = connect(cluster, bob, {"u/" + bob.user + "/i"});

    std::set<std::string> sent;
    auto send = [&](const std::string& topic, const std::string& body) {
        REQUIRE(a.client->publish(topic, body) == 0);
        sent.insert(body);
    };
    for (int i = 0; i < 20; ++i) send("m/" + bob.user, "direct " + std::to_string(i));
    for (int i = 0; i < 10; ++i) send("g/gpair", "group " + std::to_string(i));
    cluster.bridge(0).kill_hard();
    for (int i = 20; i < 30; ++i) send("m/" + bob.user, "direct " + std::to_string(i));

    // Live copies may repeat (at least once); stored ones never do.
    std::set<std::string> live;
    while (live.size() < sent.size()) {
        auto e = next_entry(*b.client, {"msg"}, 30s);
        if (!e) break;
        live.insert(e->body);
    }
    CHECK(live == sent);
    REQUIRE(eventually([&] { return count_kind(stored(cluster, bob.user), "msg") >= sent.size(); }, 30s));
    auto entries = stored(cluster, bob.user);
    CHECK(gap_free(entries));
    std::multiset<std::string> bodies;
    for (const auto& e : entries) {
        if (e.kind == "msg") bodies.insert(e.body);
    }
    CHECK(bodies == std::multiset<std::string>(sent.begin(), sent.end()));
    // Carol's copies of a group message the killed bridge had taken come with the other
    // bridge's pending scan (messages older than a sweep, at least 2 s), after Bob's.
    REQUIRE(eventually([&] { return count_kind(stored(cluster, carol.user), "msg") >= 10; }, 30s));
    auto carols = stored(cluster, carol.user);
    CHECK(count_kind(carols, "msg") == 10);
    CHECK(gap_free(carols));
}

TEST_CASE("a device that connects to a node other than its home is closed without a CONNACK") {
    ClusterFixture cluster;
    auto bob = cluster.add_user_on("n2");
    MosqDevice wrong(bob.client_id(), bob.user, bob.token);
    REQUIRE(wrong.connect(cluster.node("n1").port()));
    CHECK(wrong.wait_connack(5s) == -1);
    CHECK(eventually([&] { return !wrong.alive(); }, 5s));
    MosqDevice home(bob.client_id(), bob.user, bob.token);
    REQUIRE(home.connect(cluster.node("n2").port()));
    CHECK(home.wait_connack(5s) == 0);
}

TEST_CASE("the sidecar names each device's home node, and a new one once the old node's lease has expired") {
    ClusterFixture cluster;
    SidecarHarness sidecar(cluster.db_location(), [](chat::sidecar::SidecarConfig& c) { c.cluster = true; });
    auto v = sidecar.post_json("/v1/register", {{"phone", "+15550001"}});
    REQUIRE(v);
    REQUIRE(v->status == 202);
    auto verified = sidecar.post_json("/v1/verify", {{"phone", "+15550001"}, {"code", *sidecar.code_for("+15550001")}});
    REQUIRE(verified);
    REQUIRE(verified->status == 200);
    auto j = body_of(verified);
    std::string user = j["user"], token = j["token"], client_id = j["client_id"];
    std::string home = cluster.settle_home(user);
    CHECK(j["node"]["id"] == home);
    CHECK(j["node"]["address"] == cluster.address(home));

    auto me = sidecar.http().Get("/v1/me", SidecarHarness::auth(token));
    REQUIRE(me);
    REQUIRE(me->status == 200);
    CHECK(body_of(me)["node"]["id"] == home);
    MosqDevice first(client_id, user, token);
    REQUIRE(first.connect(cluster.node(home).port()));
    REQUIRE(first.wait_connack(5s) == 0);

    cluster.crash(home);
    cluster.wait_lease_expired(home);
    auto again = sidecar.http().Get("/v1/me", SidecarHarness::auth(token));
    REQUIRE(again);
    REQUIRE(again->status == 200);
    std::string moved = body_of(again)["node"]["id"];
    CHECK(moved != home);
    CHECK(body_of(again)["node"]["address"] == cluster.address(moved));
    // The rule: connect there, and while it refuses, back off and ask again.
    bool taken = false;
    for (int attempt = 0; attempt < 20 && !taken; ++attempt) {
        auto me_now = sidecar.http().Get("/v1/me", SidecarHarness::auth(token));
        REQUIRE(me_now);
        REQUIRE(me_now->status == 200);
        CHECK(body_of(me_now)["node"]["id"] == moved);
        MosqDevice second(client_id, user, token);
        REQUIRE(second.connect(cluster.node(moved).port()));
        taken = second.wait_connack(5s) == 0;
        if (!taken) std::this_thread::sleep_for(250ms);
    }
    CHECK(taken);
}

namespace {

// A phone publishing `m/{to}` QoS 1 one at a time ("{tag}-{i}", at most ~200/s) until stopped; remembers which
// were PUBACKed. When its link drops it follows the client rule: asks for its home again (its
// own database connection: settle_home, as GET /v1/me does) and reconnects, backing off while
// refused. Its own thread; acked() is read once it has stopped.
class PublishStream {
public:
    PublishStream(ClusterFixture& cluster, ClusterDevice from, std::string to, std::string tag)
        : from_(std::move(from)), to_(std::move(to)), tag_(std::move(tag)), db_location_(cluster.db_location()) {
        for (const auto& id : cluster.node_ids()) ports_[id] = cluster.node(id).port();
        thread_ = std::thread([this] { run(); });
    }
    ~PublishStream() { stop(); }
    size_t acked_count() const { return count_; }
    size_t connections() const { return connections_; }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    // The bodies PUBACKed, and what ended the stream early if anything; call after stop().
    const std::vector<std::string>& acked() const { return acked_; }
    const std::string& error() const { return error_; }

private:
    void run() noexcept {
        try {
            chat::storage::Database db(db_location_);
            chat::storage::Cluster homes(db);
            int next = 0;
            while (!stop_) {
                auto home = homes.settle_home(from_.user, chat::now_ms());
                MosqDevice device(from_.client_id(), from_.user, from_.token);
                if (!home || !home->live || !device.connect(ports_.at(home->node)) || device.wait_connack(5s) != 0) {
                    std::this_thread::sleep_for(250ms);
                    continue;
                }
                ++connections_;
                while (!stop_) {
                    std::string body = tag_ + "-" + std::to_string(next++);
                    int id = device.publish("m/" + to_, body);
                    if (id < 0 || !device.wait_ack(id, 10s)) break;  // the link dropped: not acknowledged
                    acked_.push_back(body);
                    ++count_;
                    std::this_thread::sleep_for(5ms);  // a steady stream, not a flood
                }
            }
        } catch (const std::exception& e) {
            error_ = e.what();  // the checks then find too few PUBACKs
        }
    }
    ClusterDevice from_;
    std::string to_, tag_, db_location_;
    std::map<std::string, int> ports_;
    std::vector<std::string> acked_;
    std::string error_;
    std::atomic<size_t> count_{0}, connections_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// REQUIRE(eventually(done)), with every process's log when it fails.
void require_eventually(ClusterFixture& cluster, const std::function<bool()>& done, std::chrono::milliseconds timeout,
                        const std::string& what) {
    if (!eventually(done, timeout)) FAIL("timed out: " << what << "\n" << cluster.logs());
}

size_t count_body(const std::vector<chat::Entry>& entries, const std::string& kind, const std::string& body) {
    return static_cast<size_t>(
        std::count_if(entries.begin(), entries.end(), [&](auto& e) { return e.kind == kind && e.body == body; }));
}

// Which of `bodies` no entry of `kind` holds: "" when none is missing, else how many and the first.
std::string missing(const std::vector<chat::Entry>& entries, const std::string& kind, const std::vector<std::string>& bodies) {
    std::set<std::string> have;
    for (const auto& e : entries) {
        if (e.kind == kind) have.insert(e.body);
    }
    size_t count = 0;
    std::string first;
    for (const auto& b : bodies) {
        if (have.contains(b)) continue;
        if (count++ == 0) first = b;
    }
    return count == 0 ? "" : std::to_string(count) + " " + kind + " missing, first " + first + "; ";
}

}  // namespace

TEST_CASE("kill -9 of the recipient's home under a stream: every PUBACKed message lands once") {
    ClusterFixture cluster;  // leases of 1.5 s
    auto alice = cluster.add_user_on("n1");  // sends to bob throughout
    auto bob = cluster.add_user_on("n2");    // homed on the node that dies
    auto dave = cluster.add_user_on("n2");   // sends to alice from the node that dies
    auto b = connect(cluster, bob, {"u/" + bob.user + "/i"});
    std::set<std::string> seen_by_bob;
    auto drain = [&](MqttClient& client) {
        while (auto m = client.next(0ms)) seen_by_bob.insert(chat::entry_from_json(m->payload).id);
    };

    PublishStream to_bob(cluster, alice, bob.user, "a2b");
    PublishStream to_alice(cluster, dave, alice.user, "d2a");
    require_eventually(cluster, [&] { return to_bob.acked_count() >= 50 && to_alice.acked_count() >= 50; }, 30s,
                       "50 PUBACKs in each stream");

    cluster.crash("n2");
    size_t acked_at_crash = to_bob.acked_count(), dave_at_crash = to_alice.acked_count();
    drain(*b.client);
    cluster.wait_lease_expired("n2");
    // Bob's phone follows the rule: its link broke, so it asks for its home again (GET /v1/me
    // settles it, as here) and connects there.
    std::string bob_home = cluster.settle_home(bob.user);
    REQUIRE(bob_home != "n2");
    CHECK(cluster.settle_home(dave.user) != "n2");
    b = reconnect(cluster, bob, {"u/" + bob.user + "/i"});
    // Alice kept sending through the outage; dave, once rehomed, sends from his new home.
    require_eventually(
        cluster, [&] { return to_bob.acked_count() >= acked_at_crash + 50 && to_alice.acked_count() >= dave_at_crash + 20; },
        30s, "more PUBACKs to both senders after the crash");
    CHECK(to_alice.connections() >= 2);

    cluster.restart("n2");
    size_t acked_at_restart = to_bob.acked_count();
    require_eventually(cluster, [&] { return to_bob.acked_count() >= acked_at_restart + 50; }, 30s,
                       "50 more PUBACKs to alice's stream after the restart");
    to_bob.stop();
    to_alice.stop();
    INFO("a2b acked " << to_bob.acked().size() << " " << to_bob.error() << ", d2a acked " << to_alice.acked().size()
                       << " " << to_alice.error());

    // The restarted node no longer homes bob: it refuses his device.
    MosqDevice stale(bob.client_id(), bob.user, bob.token);
    REQUIRE(stale.connect(cluster.node("n2").port()));
    CHECK(stale.wait_connack(5s) == -1);

    // Everything PUBACKed arrives: messages accepted by n1 while bob had no live home, and what
    // n2 had journaled but not yet written when it died (handed to the users' new homes).
    auto not_landed = [&] {
        return missing(stored(cluster, bob.user), "msg", to_bob.acked()) +
               missing(stored(cluster, alice.user), "sent", to_bob.acked()) +
               missing(stored(cluster, alice.user), "msg", to_alice.acked()) +
               missing(stored(cluster, dave.user), "sent", to_alice.acked());
    };
    if (!eventually([&] { return not_landed().empty(); }, 60s)) {
        FAIL(not_landed() << cluster.cluster().handoffs(1000).size() << " hand-offs queued\n" << cluster.logs());
    }
    // ... each exactly once, in inboxes whose seqs run 1..N.
    auto bobs = stored(cluster, bob.user), alices = stored(cluster, alice.user), daves = stored(cluster, dave.user);
    for (const auto& body : to_bob.acked()) {
        INFO(body);
        CHECK(count_body(bobs, "msg", body) == 1);
        CHECK(count_body(alices, "sent", body) == 1);
    }
    for (const auto& body : to_alice.acked()) {
        INFO(body);
        CHECK(count_body(alices, "msg", body) == 1);
        CHECK(count_body(daves, "sent", body) == 1);
    }
    CHECK(gap_free(bobs));
    CHECK(gap_free(alices));
    CHECK(gap_free(daves));

    // Every device has everything after a sync from its new home: live copies plus replay.
    drain(*b.client);
    CHECK(ids_of(sync_all(cluster, bob, bobs.size())) == ids_of(bobs));
    CHECK(ids_of(sync_all(cluster, alice, alices.size())) == ids_of(alices));
    CHECK(ids_of(sync_all(cluster, dave, daves.size())) == ids_of(daves));
    for (const auto& id : seen_by_bob) CHECK(std::any_of(bobs.begin(), bobs.end(), [&](auto& e) { return e.id == id; }));
}
