// Unit tests for storage::Cluster: leases, homes that move only off a dead node, routing, and
// the journal of a restarted node handing entries of moved users to their new home.
#include "storage/accounts.h"
#include "storage/cluster.h"
#include "storage/inbox.h"
#include "storage/inbox_log.h"
#include "storage/journal.h"
#include "storage/social.h"
#include "support/pg_cluster.h"
#include "support/process.h"
#include "support/text_entry.h"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace chat::storage;

namespace {

struct Db {
    chat::testing::TempDir dir;
    chat::testing::TestDatabase store{dir.path() / "t.db"};
    std::string path = store.location();
    Database db{path};
    Cluster cluster{db};
    Db() {
        Accounts a(db);
        for (const char* u : {"1", "2", "3", "4"}) a.create_user(u, 1);
    }
};

}  // namespace

TEST_CASE("a node's lease is registered, renewed and released; only running leases are live") {
    Db t;
    CHECK(t.cluster.renew_lease("n1", "127.0.0.1:1883", 1000, 5000) == 0);
    CHECK(t.cluster.renew_lease("n2", "127.0.0.1:1884", 1000, 5000) == 0);
    CHECK(t.cluster.renew_lease("n1", "127.0.0.1:1885", 2000, 5000) == 6000);  // the lease it had
    auto nodes = t.cluster.nodes();
    REQUIRE(nodes.size() == 2);
    CHECK(nodes[0].address == "127.0.0.1:1885");
    CHECK(nodes[0].lease_until_ms == 7000);
    CHECK(t.cluster.live_nodes(6500).size() == 1);  // n2's lease ended at 6000
    t.cluster.release_lease("n1", 3000);
    CHECK(t.cluster.live_nodes(3000).empty());
}

TEST_CASE("a user gets a live home once, keeps it while its node lives, and moves only off a dead node") {
    Db t;
    CHECK_FALSE(t.cluster.settle_home("nobody", 0).has_value());
    auto none = t.cluster.settle_home("1", 0);  // no node is live yet
    REQUIRE(none.has_value());
    CHECK(none->node.empty());
    CHECK_FALSE(none->live);
    t.cluster.renew_lease("n1", "a1", 0, 5000);
    t.cluster.renew_lease("n2", "a2", 0, 5000);
    auto first = t.cluster.settle_home("1", 100);
    REQUIRE(first.has_value());
    CHECK(first->live);
    CHECK(t.cluster.home_of("1", 100)->node == first->node);
    // The same answer while the node lives, whoever asks.
    for (int i = 0; i < 3; ++i) CHECK(t.cluster.settle_home("1", 200)->node == first->node);
    // Its node stops renewing: the user moves to the one left, with an acl change for the nodes.
    std::string other = first->node == "n1" ? "n2" : "n1";
    t.cluster.renew_lease(other, other == "n1" ? "a1" : "a2", 4000, 5000);
    int64_t changes_before = AclChanges(t.db).latest_id();
    auto moved = t.cluster.settle_home("1", 6000);
    REQUIRE(moved.has_value());
    CHECK(moved->node == other);
    CHECK(moved->live);
    CHECK(AclChanges(t.db).since(changes_before).users == std::vector<std::string>{"1"});
    CHECK_FALSE(t.cluster.home_of("2", 6000)->live);  // no home yet
}

TEST_CASE("route splits users by live home, settling those without one, and leaves out unknown users") {
    Db t;
    t.cluster.renew_lease("n1", "a1", 0, 5000);
    t.cluster.renew_lease("n2", "a2", 0, 5000);
    auto routed = t.cluster.route({"1", "2", "3", "4", "ghost"}, 100);
    size_t total = 0;
    for (const auto& [node, users] : routed) {
        total += users.size();
        for (const auto& u : users) CHECK(t.cluster.home_of(u, 100)->node == node);
    }
    CHECK(total == 4);
    t.cluster.renew_lease("n1", "a1", 4000, 5000);  // n2 dies
    auto after = t.cluster.route({"1", "2", "3", "4"}, 6000);
    REQUIRE(after.size() == 1);
    CHECK(after.begin()->first == "n1");
    CHECK(after.begin()->second.size() == 4);
    CHECK(t.cluster.homed_elsewhere({"1", "2", "3", "4"}, "n2").size() == 4);
    CHECK(t.cluster.homed_elsewhere({"1", "2", "3", "4"}, "n1").empty());
}

TEST_CASE("a restarted node imports its journal for its users and hands the moved users' entries off, once") {
    Db t;
    t.cluster.renew_lease("n1", "a1", 0, 5000);
    t.cluster.renew_lease("n2", "a2", 0, 5000);
    // Users 1 and 2 homed on n2 (forced by letting only n2 live when they settle).
    t.cluster.release_lease("n1", 1);
    REQUIRE(t.cluster.settle_home("1", 2)->node == "n2");
    REQUIRE(t.cluster.settle_home("2", 2)->node == "n2");
    auto journal = t.dir.path() / "n2.journal";
    auto to_moved = chat::testing::text_entry("2", "1", "to a user who moved");
    to_moved.seq = 1;
    auto to_stayer = chat::testing::text_entry("1", "2", "to a user who stayed");
    to_stayer.seq = 1;
    {
        // What n2 journaled before its kill -9, none of it imported.
        JournalWriter w(journal, 0);
        w.append({JournalRecord{JournalRecord::Op::inbox, "1", to_moved}});
        w.append({JournalRecord{JournalRecord::Op::inbox, "2", to_stayer}});
        JournalRecord ack{JournalRecord::Op::cursor, "1", {}, "phone"};
        ack.entry.seq = 1;
        w.append({ack});
    }
    // n2 stays dead past its lease: user 1 moves to n1; user 2 is not asked about.
    t.cluster.renew_lease("n1", "a1", 6000, 5000);
    REQUIRE(t.cluster.settle_home("1", 6000)->node == "n1");
    // n2 comes back: a new lease, then its journal.
    t.cluster.renew_lease("n2", "a2", 7000, 5000);
    { InboxLog log(t.db, t.path, journal, "n2"); }
    Inbox inbox(t.db);
    CHECK(inbox.entries_after("1", 0, 10).empty());  // not stored with n2's seq
    REQUIRE(inbox.entries_after("2", 0, 10).size() == 1);
    CHECK(inbox.last_seq("1") == 0);
    auto handed = t.cluster.handoffs(10);
    REQUIRE(handed.size() == 1);
    CHECK(handed[0].owner == "1");
    CHECK(handed[0].entry.id == to_moved.id);
    CHECK(handed[0].entry.body == "to a user who moved");
    CHECK(handed[0].entry.to == "1");
    t.cluster.hand_off("1", to_moved);  // a second hand-off of the same entry adds nothing
    CHECK(t.cluster.handoffs(10).size() == 1);
    t.cluster.handoff_done(handed[0].id);
    CHECK(t.cluster.handoffs(10).empty());
}

TEST_CASE("a starting node clears the online flags of its own users only") {
    Db t;
    Accounts accounts(t.db);
    accounts.add_device("1", "d1", "h1", 1);
    accounts.add_device("2", "d1", "h2", 1);
    t.cluster.renew_lease("n1", "a1", 0, 5000);
    REQUIRE(t.cluster.settle_home("1", 1)->node == "n1");
    t.cluster.release_lease("n1", 2);
    t.cluster.renew_lease("n2", "a2", 2, 5000);
    REQUIRE(t.cluster.settle_home("2", 3)->node == "n2");
    accounts.set_online("1", "d1", true);
    accounts.set_online("2", "d1", true);
    t.cluster.clear_online("n1");
    CHECK(accounts.online_devices("1") == 0);
    CHECK(accounts.online_devices("2") == 1);
}
