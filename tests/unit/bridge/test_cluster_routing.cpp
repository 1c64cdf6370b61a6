// Unit tests of a cluster bridge's routing over a real database (both backends): each node's
// connection is a recording publisher, nodes and homes are set through storage::Cluster.
#include "bridge/batch.h"
#include "bridge/cluster_publisher.h"
#include "bridge/config.h"
#include "bridge/group_fanout.h"
#include "bridge/handoffs.h"
#include "bridge/profile_notices.h"
#include "bridge/receipts.h"
#include "bridge/relays.h"
#include "bridge/sync_replay.h"

#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/cluster.h"
#include "storage/inbox.h"
#include "storage/outbox.h"
#include "storage/profiles.h"
#include "storage/social.h"
#include "support/pg_cluster.h"
#include "support/process.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

using namespace chat;
using namespace chat::bridge;

namespace {

// What one node's connection was asked to publish.
struct NodeRecorder : NodePublisher {
    std::vector<std::pair<std::string, std::string>> sent;
    int flushes = 0;
    Acks answer = Acks::all;
    void publish(const std::string& topic, std::string payload, int64_t) override {
        sent.emplace_back(topic, std::move(payload));
    }
    Acks flush() override {
        ++flushes;
        return answer;
    }
    nlohmann::json batch(size_t i) const { return nlohmann::json::parse(sent.at(i).second); }
};

// One recorder per node; a node in `down` has no connection.
struct RecordingLinks : NodeLinks {
    std::map<std::string, NodeRecorder> nodes;
    std::set<std::string> down;
    NodePublisher* link(const std::string& node) override {
        if (down.count(node)) return nullptr;
        return &nodes[node];
    }
    size_t total_sent() const {
        size_t n = 0;
        for (const auto& [id, r] : nodes) n += r.sent.size();
        return n;
    }
};

constexpr int64_t lease_ms = 60'000;

struct ClusterWorld {
    testing::TempDir dir;
    testing::TestDatabase store{dir.path() / "chat.db"};
    storage::Database db{store.location()};
    storage::Cluster cluster{db};
    int64_t now = 1'700'000'000'000;
    std::function<int64_t()> clock = [this] { return now; };
    RecordingLinks links;
    ClusterPublisher out{cluster, links, clock};
    const std::vector<std::string> node_ids{"n1", "n2", "n3"};

    ClusterWorld() {
        storage::Accounts accounts(db);
        for (auto u : {"1001", "1002", "1003", "1004"}) {
            accounts.create_user(u, now);
            accounts.add_device(u, "d1", hash_token("t"), now);
        }
        renew_all();
    }
    void renew_all() {
        for (const auto& n : node_ids) cluster.renew_lease(n, "127.0.0.1:" + std::to_string(1880 + n.back() - '0'), now, lease_ms);
    }
    // Homes `user` on `node`: only that node is live while the user's home is settled.
    void home(const std::string& user, const std::string& node) {
        for (const auto& n : node_ids) {
            if (n != node) cluster.release_lease(n, now);
        }
        REQUIRE(cluster.settle_home(user, now)->node == node);
        renew_all();
    }
    Entry message(const std::string& from, const std::string& body, const std::string& gid = "") {
        Entry e;
        e.ts = now;
        e.id = new_message_id(now);
        e.from = from;
        e.gid = gid;
        e.body = body;
        return e;
    }
    void group(const std::string& gid, const std::string& owner, const std::vector<std::string>& members) {
        storage::Transaction tx(db);
        storage::Groups(db).create(gid, gid, owner, members, now);
        tx.commit();
    }
    NodeRecorder& node(const std::string& id) { return links.nodes[id]; }
};

}  // namespace

TEST_CASE("a cluster fan-out sends each node one batch with the members it homes") {
    ClusterWorld w;
    w.home("1001", "n1");
    w.home("1002", "n1");
    w.home("1003", "n2");
    w.home("1004", "n2");
    w.group("gteam", "1001", {"1002", "1003", "1004"});
    Entry m = w.message("1001", "hello", "gteam");
    storage::GroupOutbox(w.db).enqueue(m);
    GroupFanout fanout(w.db, w.out, w.clock);
    auto result = fanout.fan_out(m);
    CHECK(result.members == 3);
    CHECK(result.finished);
    REQUIRE(w.node("n1").sent.size() == 1);
    CHECK(w.node("n1").sent[0].first == "b/fanout");
    CHECK(w.node("n1").batch(0)["to"] == nlohmann::json::array({"1002"}));
    REQUIRE(w.node("n2").sent.size() == 1);
    CHECK(w.node("n2").batch(0)["to"] == nlohmann::json::array({"1003", "1004"}));
    CHECK(w.node("n2").batch(0)["entry"]["id"] == m.id);
    CHECK(w.node("n3").sent.empty());
    // Every node sent to was waited for before the message was marked done.
    CHECK(w.node("n1").flushes == 1);
    CHECK(w.node("n2").flushes == 1);
    CHECK(storage::GroupOutbox(w.db).pending(10).empty());
}

TEST_CASE("a batch for a node the bridge is not connected to leaves the message pending until it is") {
    ClusterWorld w;
    w.home("1002", "n1");
    w.home("1003", "n2");
    w.group("gteam", "1001", {"1002", "1003"});
    Entry m = w.message("1001", "hello", "gteam");
    storage::GroupOutbox outbox(w.db);
    outbox.enqueue(m);
    GroupFanout fanout(w.db, w.out, w.clock);
    w.links.down = {"n2"};
    auto result = fanout.fan_out(m);
    CHECK_FALSE(result.finished);
    CHECK(outbox.pending(10).size() == 1);
    CHECK(w.node("n1").sent.size() == 1);  // the reachable part went (the plugin skips it next time)
    w.links.down.clear();
    CHECK(fanout.fan_out_pending(w.now) == 1);
    REQUIRE(w.node("n2").sent.size() == 1);
    CHECK(w.node("n2").batch(0)["to"] == nlohmann::json::array({"1003"}));
    CHECK(outbox.pending(10).empty());
}

TEST_CASE("while no node is live, cluster work waits instead of being marked done") {
    ClusterWorld w;
    w.group("gteam", "1001", {"1002"});
    Entry m = w.message("1001", "hello", "gteam");
    storage::GroupOutbox outbox(w.db);
    outbox.enqueue(m);
    w.now += 2 * lease_ms;  // every lease has run out
    GroupFanout fanout(w.db, w.out, w.clock);
    CHECK_FALSE(fanout.fan_out(m).finished);
    CHECK(outbox.pending(10).size() == 1);
    CHECK(w.links.total_sent() == 0);
}

TEST_CASE("a direct message or read receipt relayed from another node goes to the recipient's home, once") {
    ClusterWorld w;
    w.home("1001", "n1");
    w.home("1003", "n2");
    // What the sender's node journaled for m/1003: an outbox record carrying the recipient.
    Entry m = w.message("1001", "to a user homed elsewhere");
    m.to = "1003";
    m.cid = "c-1";
    storage::GroupOutbox outbox(w.db);
    outbox.enqueue(m);
    REQUIRE(outbox.pending(10).at(0).to == "1003");
    GroupFanout fanout(w.db, w.out, w.clock);
    auto result = fanout.fan_out(m);
    CHECK(result.finished);
    CHECK(result.members == 1);
    CHECK(w.node("n1").sent.empty());
    REQUIRE(w.node("n2").sent.size() == 1);
    auto batch = w.node("n2").batch(0);
    CHECK(batch["to"] == nlohmann::json::array({"1003"}));
    CHECK(batch["direct"] == true);
    CHECK(batch["entry"]["to"] == "1003");
    CHECK(batch["entry"]["body"] == "to a user homed elsewhere");
    CHECK_FALSE(batch["entry"].contains("cid"));  // the sender's own, as on one node
    CHECK_FALSE(batch["entry"].contains("seq"));
    CHECK(outbox.pending(10).empty());
    // The m/ publish redelivered, or the pending scan: done before, not finished again, nothing sent.
    CHECK_FALSE(fanout.fan_out(m).finished);
    CHECK(fanout.catch_up(w.now) == 0);
    CHECK(w.node("n2").sent.size() == 1);

    // A relay to a home the bridge cannot reach is retried by the pending scan.
    Entry r = w.message("1001", R"({"read":["x"]})");
    r.kind = "receipt";
    r.to = "1003";
    outbox.enqueue(r);
    w.links.down = {"n2"};
    CHECK_FALSE(fanout.fan_out(r).finished);
    w.links.down.clear();
    CHECK(fanout.catch_up(w.now) == 1);
    REQUIRE(w.node("n2").sent.size() == 2);
    CHECK(w.node("n2").batch(1)["entry"]["kind"] == "receipt");
}

TEST_CASE("delivered receipts and profile notices go to each recipient's home") {
    ClusterWorld w;
    w.home("1001", "n1");
    w.home("1002", "n2");
    w.home("1003", "n3");
    for (const auto& from : {"1001", "1003"}) {
        storage::Transaction tx(w.db);
        Entry e = w.message(from, "hi");
        storage::Inbox(w.db).append("1002", e);
        tx.commit();
    }
    {
        storage::Transaction tx(w.db);
        storage::Inbox(w.db).advance_cursor("1002", "d1", 2);
        tx.commit();
    }
    Receipts receipts(w.db, w.out);
    CHECK(receipts.on_ack("1002", 2, w.now) == 2);
    REQUIRE(w.node("n1").sent.size() == 1);
    CHECK(w.node("n1").batch(0)["to"] == nlohmann::json::array({"1001"}));
    CHECK(w.node("n1").batch(0)["entry"]["kind"] == "receipt");
    REQUIRE(w.node("n3").sent.size() == 1);
    CHECK(w.node("n3").batch(0)["to"] == nlohmann::json::array({"1003"}));
    CHECK(w.node("n2").sent.empty());

    // 1002 changes its profile: its contacts (those it talked with) hear of it at their homes.
    {
        storage::Transaction tx(w.db);
        storage::Profile bob;
        bob.display_name = "Bob";
        storage::Profiles(w.db).put("1002", bob, w.now);
        tx.commit();
    }
    ProfileNotices notices(w.db, w.out);
    size_t sent = notices.emit();
    CHECK(sent == 2);
    size_t at_homes = 0;
    for (const auto& [id, r] : w.links.nodes) {
        for (size_t i = 0; i < r.sent.size(); ++i) {
            auto b = r.batch(i);
            if (b["entry"]["kind"] != "notice") continue;
            for (const auto& to : b["to"]) {
                CHECK(w.cluster.home_of(to.get<std::string>(), w.now)->node == id);
                ++at_homes;
            }
        }
    }
    CHECK(at_homes == sent);
}

TEST_CASE("a sync replay goes to the node the device is connected to, its user's home") {
    ClusterWorld w;
    w.home("1002", "n3");
    {
        storage::Transaction tx(w.db);
        Entry e = w.message("1001", "missed");
        storage::Inbox(w.db).append("1002", e);
        tx.commit();
    }
    SyncReplay replay(w.db, w.out);
    replay.request({"1002", "d1", 0, 1});
    CHECK(replay.step() == SyncReplay::Step::finished);
    REQUIRE(w.node("n3").sent.size() == 1);
    CHECK(w.node("n3").sent[0].first == "b/replay");
    CHECK(w.node("n3").batch(0)["device"] == "d1");
    CHECK(w.links.total_sent() == 1);
}

TEST_CASE("typing goes to the recipient's home as b/live; presence to every other live node") {
    ClusterWorld w;
    w.home("1003", "n2");
    Relays relays(w.cluster, w.links, w.clock);
    std::string typing = R"({"from":"1001","ts":5})";
    CHECK(relays.typing("1003", typing));
    REQUIRE(w.node("n2").sent.size() == 1);
    CHECK(w.node("n2").sent[0].first == "b/live");
    CHECK(w.node("n2").batch(0) ==
          nlohmann::json{{"topic", "u/1003/e"}, {"payload", typing}, {"qos", 0}, {"retain", false}});
    CHECK(w.links.total_sent() == 1);
    w.links.down = {"n2"};
    CHECK_FALSE(relays.typing("1003", typing));  // live only: not kept for later
    w.links.down.clear();

    // n3 stops renewing: presence from n1 reaches n2 only.
    w.now += lease_ms / 2;
    w.cluster.renew_lease("n1", "127.0.0.1:1881", w.now, lease_ms);
    w.cluster.renew_lease("n2", "127.0.0.1:1882", w.now, lease_ms);
    w.now += lease_ms / 2 + 1;
    CHECK(relays.presence("n1", "1001", "online", true) == 1);
    REQUIRE(w.node("n2").sent.size() == 2);
    CHECK(w.node("n2").batch(1) == nlohmann::json{{"topic", "p/1001"}, {"payload", "online"}, {"qos", 1}, {"retain", true}});
    CHECK(w.node("n1").sent.empty());
    CHECK(w.node("n3").sent.empty());
}

TEST_CASE("hand-offs go to the owner's home as plain batches and are done once that node acked them") {
    ClusterWorld w;
    w.home("1002", "n2");
    Entry sent = w.message("1002", "my own message");
    sent.kind = "sent";
    sent.to = "1001";
    sent.device = "d1";
    sent.seq = 7;  // the seq the restarted node had given it
    w.cluster.hand_off("1002", sent);
    Handoffs handoffs(w.cluster, w.out);
    w.links.down = {"n2"};
    CHECK(handoffs.sweep() == 0);
    CHECK(w.cluster.handoffs(10).size() == 1);  // kept for the next sweep
    w.links.down.clear();
    w.node("n2").answer = Acks::missing;
    CHECK(handoffs.sweep() == 0);
    CHECK(w.cluster.handoffs(10).size() == 1);
    w.node("n2").answer = Acks::all;
    CHECK(handoffs.sweep() == 1);
    CHECK(w.cluster.handoffs(10).empty());
    auto batch = w.node("n2").batch(w.node("n2").sent.size() - 1);
    CHECK(batch["to"] == nlohmann::json::array({"1002"}));
    CHECK_FALSE(batch.contains("direct"));
    CHECK(batch["entry"]["id"] == sent.id);
    CHECK(batch["entry"]["kind"] == "sent");
    CHECK(batch["entry"]["to"] == "1001");
    CHECK(batch["entry"]["device"] == "d1");
    CHECK_FALSE(batch["entry"].contains("seq"));  // the new home gives it its own
}

TEST_CASE("the bridge's --cluster flag needs the shared database and replaces --broker") {
    testing::TempDir dir;
    auto secret = dir.path() / "bridge.secret";
    std::ofstream(secret) << "0123456789abcdef-secret\n";
    std::filesystem::permissions(secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::vector<std::string> base = {"--user", "b", "--password-file", secret.string()};
    auto with = [&](std::vector<std::string> more) {
        more.insert(more.end(), base.begin(), base.end());
        return parse_args(more);
    };
    CHECK_FALSE(with({}).cluster);
    auto c = with({"--cluster", "--db-url", "postgresql://chat@127.0.0.1:5432/chat"});
    CHECK(c.cluster);
    CHECK_FALSE(c.tls);
    CHECK(with({"--db-url", "postgresql://chat@127.0.0.1:5432/chat", "--cluster", "--ca-file", "ca.pem"}).tls);
    CHECK_THROWS_AS(with({"--cluster"}), std::invalid_argument);
    CHECK_THROWS_AS(with({"--cluster", "--db", "chat.db"}), std::invalid_argument);
    CHECK_THROWS_AS(with({"--cluster", "--db-url", "postgresql://chat@127.0.0.1:5432/chat", "--broker", "127.0.0.1:1883"}),
                    std::invalid_argument);
}

TEST_CASE("a b/live payload carries any text as a JSON string") {
    auto j = nlohmann::json::parse(live_batch("p/1001", "a \"quoted\"\nline", 1, true));
    CHECK(j["payload"] == "a \"quoted\"\nline");
    CHECK(j["topic"] == "p/1001");
}

TEST_CASE("a message a plugin published for a b/live batch is recognised and never relayed again") {
    auto plain = mqtt::make_message("p/1001", "online", 1, true);
    CHECK_FALSE(was_relayed(*plain));
    auto other = mqtt::make_message("p/1001", "online", 1, true);
    other->set_properties({mqtt::property(mqtt::property::USER_PROPERTY, "kind", "msg")});
    CHECK_FALSE(was_relayed(*other));
    auto relayed = mqtt::make_message("p/1001", "online", 1, true);
    relayed->set_properties({mqtt::property(mqtt::property::USER_PROPERTY, "kind", "msg"),
                             mqtt::property(mqtt::property::USER_PROPERTY, "relayed", "1")});
    CHECK(was_relayed(*relayed));
}
