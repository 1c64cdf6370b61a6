// Unit tests for storage: migrations, accounts, inbox seqs and cursors, groups, blocks.
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/fanout.h"
#include "storage/inbox.h"
#include "storage/outbox.h"
#include "storage/push_tokens.h"
#include "storage/retention.h"
#include "storage/schema.h"
#include "storage/social.h"
#include "support/pg_cluster.h"
#include "support/process.h"
#include "support/text_entry.h"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <memory>

using namespace chat::storage;

namespace {

// A fresh database on the backend under test (SQLite file, or PostgreSQL with CHAT_TEST_DB).
struct Db {
    chat::testing::TempDir dir;
    chat::testing::TestDatabase store{dir.path() / "t.db"};
    Database db{store.location()};
};

}  // namespace

TEST_CASE("a new database is migrated to the latest schema version, and reopening keeps it") {
    chat::testing::TempDir dir;
    chat::testing::TestDatabase store(dir.path() / "t.db");
    { Database db(store.location()); CHECK(db.schema_version() == static_cast<int>(migrations().size())); }
    Database again(store.location());
    CHECK(again.schema_version() == static_cast<int>(migrations().size()));
}

TEST_CASE("a schema newer than this build is refused on either backend") {
    chat::testing::TempDir dir;
    chat::testing::TestDatabase store(dir.path() / "t.db");
    {
        Database db(store.location());
        auto newer = std::to_string(migrations().size() + 1);
        db.exec(("INSERT INTO schema_version(version) VALUES(" + newer + ")").c_str());
    }
    CHECK_THROWS_WITH(Database(store.location()), Catch::Contains("is newer than this build knows"));
}

TEST_CASE("several connections opening a new database at once migrate it once") {
    chat::testing::TempDir dir;
    chat::testing::TestDatabase store(dir.path() / "t.db");
    std::vector<std::thread> openers;
    std::atomic<int> failures{0};
    for (int i = 0; i < 4; ++i) {
        openers.emplace_back([&] {
            try {
                Database db(store.location());
            } catch (const std::exception&) {
                ++failures;
            }
        });
    }
    for (auto& t : openers) t.join();
    CHECK(failures == 0);
    Database db(store.location());
    Statement versions(db, "SELECT COUNT(*) FROM schema_version");
    REQUIRE(versions.step());
    CHECK(versions.int_at(0) == static_cast<int64_t>(migrations().size()));
}

TEST_CASE("a PostgreSQL location that cannot be reached is refused with the server's reason") {
    CHECK(backend_of("postgresql://u@127.0.0.1:1/x") == Backend::postgres);
    CHECK(backend_of("postgres://u@127.0.0.1:1/x") == Backend::postgres);
    CHECK(backend_of("var/chat.db") == Backend::sqlite);
    CHECK_THROWS_WITH(Database("postgresql://nobody@127.0.0.1:1/x?connect_timeout=2"),
                      Catch::Contains("cannot connect to PostgreSQL"));
}

// SQLite counts the heap it holds; a connection that a failed open left behind would keep
// its handle, pager and cache allocated (the ASan build reports the same as a leak).
TEST_CASE("a file that is no database, or a schema newer than this build, is refused and its connection closed",
          "[sqlite]") {
    chat::testing::TempDir dir;
    auto path = (dir.path() / "t.db").string();
    { Database warm_up(path); }  // SQLite's one-time allocations happen here
    int64_t held_before = sqlite3_memory_used();

    {
        Database db(path);
        auto newer = std::to_string(migrations().size() + 1);
        db.exec(("INSERT INTO schema_version(version) VALUES(" + newer + ")").c_str());
    }
    CHECK_THROWS_WITH(Database(path), Catch::Contains("is newer than this build knows"));
    CHECK(sqlite3_memory_used() == held_before);

    auto garbage = (dir.path() / "garbage.db").string();
    {
        std::ofstream f(garbage, std::ios::binary);
        f << std::string(8192, 'x');
    }
    CHECK_THROWS_AS(Database(garbage), Error);
    CHECK(sqlite3_memory_used() == held_before);
}

TEST_CASE("a bind that SQLite refuses throws instead of running the statement with a missing value") {
    Db t;
    Statement s(t.db, "SELECT ?");
    CHECK_THROWS_WITH(s.bind(2, int64_t{1}), Catch::Contains("parameter 2"));
    CHECK_THROWS_AS(s.bind(0, std::string_view("x")), Error);
    CHECK_THROWS_AS(s.bind_blob(3, "x"), Error);
    CHECK_THROWS_AS(s.bind_null(-1), Error);
    s.bind(1, int64_t{7});  // the statement is still usable after a refused bind
    REQUIRE(s.step());
    CHECK(s.int_at(0) == 7);
    s.reset();
}

TEST_CASE("an inbox stored before the move to arrival order reads the same after it", "[sqlite]") {
    chat::testing::TempDir dir;
    auto path = (dir.path() / "t.db").string();
    const size_t arrival_order = 6;  // the migration that rebuilt the inbox as a rowid table
    {
        // The database as the release before that migration left it, with two entries.
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
        std::unique_ptr<sqlite3, decltype(&sqlite3_close)> old(raw, sqlite3_close);
        std::string sql = "CREATE TABLE schema_version(version INTEGER NOT NULL);";
        for (size_t v = 1; v < arrival_order; ++v) {
            sql += std::string(migrations()[v - 1].sqlite) + "INSERT INTO schema_version VALUES(" + std::to_string(v) + ");";
        }
        sql += "INSERT INTO users(id, created_ms, last_seq) VALUES('1', 1, 2);"
               "INSERT INTO inbox(user_id, seq, id, kind, from_user, ts, body) VALUES"
               "('1', 2, '0000000000200000000', 'msg', '2', 2, 'second'),"
               "('1', 1, '0000000000100000000', 'msg', '2', 1, 'first');";
        REQUIRE(sqlite3_exec(old.get(), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    Database db(path);
    CHECK(db.schema_version() == static_cast<int>(migrations().size()));
    Inbox inbox(db);
    auto entries = inbox.entries_after("1", 0, 10);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].body == "first");
    CHECK(entries[1].seq == 2);
    CHECK(inbox.find_by_id("1", "0000000000200000000")->body == "second");
    auto replayed = *inbox.find_by_id("1", "0000000000200000000");
    inbox.insert_imported("1", replayed, "");  // an entry the user has (same id): left as it is
    auto clash = chat::testing::text_entry("2", "1", "clash");
    clash.seq = 2;  // another entry at a seq the user has: refused, never dropped quietly
    CHECK_THROWS_AS(inbox.insert_imported("1", clash, ""), ConstraintError);
    CHECK(inbox.entries_after("1", 1, 10).at(0).body == "second");
}

TEST_CASE("upgrading to receipt marks counts what was delivered before as receipted", "[sqlite]") {
    chat::testing::TempDir dir;
    auto path = (dir.path() / "t.db").string();
    const size_t receipt_marks = 7;  // the migration that added users.receipts_*
    {
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
        std::unique_ptr<sqlite3, decltype(&sqlite3_close)> old(raw, sqlite3_close);
        std::string sql = "CREATE TABLE schema_version(version INTEGER NOT NULL);";
        for (size_t v = 1; v < receipt_marks; ++v) {
            sql += std::string(migrations()[v - 1].sqlite) + "INSERT INTO schema_version VALUES(" + std::to_string(v) + ");";
        }
        sql += "INSERT INTO users(id, created_ms, last_seq, delivered_seq) VALUES('1', 1, 5, 5);";
        REQUIRE(sqlite3_exec(old.get(), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    Database db(path);
    ReceiptMarks marks(db);
    CHECK(marks.owed(10).empty());  // those receipts were made by the release before
    CHECK_FALSE(marks.take("1", 9));
    Inbox(db).advance_cursor("1", "d1", 6);
    CHECK(marks.owed(10) == std::vector<std::string>{"1"});
    auto run = marks.take("1", 9);
    REQUIRE(run);
    CHECK(run->done == 5);
    CHECK(run->target == 6);
    CHECK(run->acked_ms == 9);
    CHECK(marks.take("1", 10)->acked_ms == 9);  // the run under way, as it was
    marks.finish("1", *run);
    CHECK(marks.owed(10).empty());
}

TEST_CASE("users and devices; tokens are stored only as hashes") {
    Db t;
    Accounts a(t.db);
    CHECK(a.create_user("15550001", 1));
    CHECK_FALSE(a.create_user("15550001", 2));
    CHECK(a.next_device_id("15550001") == "d1");
    a.add_device("15550001", "d1", chat::hash_token("secret"), 1);
    CHECK(a.next_device_id("15550001") == "d2");
    CHECK_THROWS_AS(a.add_device("15550001", "d1", chat::hash_token("x"), 1), Error);
    CHECK_THROWS_AS(a.add_device("999", "d1", chat::hash_token("x"), 1), Error);
    auto d = a.find_device("15550001", "d1");
    REQUIRE(d);
    CHECK(d->token_hash != "secret");
    CHECK(chat::token_matches("secret", d->token_hash));
    CHECK(a.revoke_device("15550001", "d1"));
    CHECK_FALSE(a.revoke_device("15550001", "d1"));
    CHECK(a.find_device("15550001", "d1")->revoked);
}

TEST_CASE("inbox seqs are per user, gap-free and increasing; unknown users store nothing") {
    Db t;
    Accounts a(t.db);
    a.create_user("1", 1);
    a.create_user("2", 1);
    Inbox inbox(t.db);
    for (int i = 1; i <= 5; ++i) {
        Transaction tx(t.db);
        auto e = chat::testing::text_entry("2", "1", "m" + std::to_string(i));
        REQUIRE(inbox.append("1", e));
        CHECK(e.seq == i);
        tx.commit();
    }
    auto other = chat::testing::text_entry("1", "2", "x");
    REQUIRE(inbox.append("2", other));
    CHECK(other.seq == 1);
    auto lost = chat::testing::text_entry("1", "3", "x");
    CHECK_FALSE(inbox.append("3", lost));
    auto after = inbox.entries_after("1", 2, 10);
    REQUIRE(after.size() == 3);
    CHECK(after[0].seq == 3);
    CHECK(after[2].body == "m5");
    CHECK(inbox.entries_after("1", 0, 2).size() == 2);
    CHECK(inbox.last_seq("1") == 5);
}

TEST_CASE("a rolled back append leaves no gap") {
    Db t;
    Accounts(t.db).create_user("1", 1);
    Inbox inbox(t.db);
    {
        Transaction tx(t.db);
        auto e = chat::testing::text_entry("2", "1", "dropped");
        inbox.append("1", e);
    }
    Transaction tx(t.db);
    auto e = chat::testing::text_entry("2", "1", "kept");
    inbox.append("1", e);
    tx.commit();
    CHECK(e.seq == 1);
}

TEST_CASE("the age sweep finds old entries by their ids and never drops one younger than the cutoff") {
    Db t;
    Accounts(t.db).create_user("1", 1);
    Inbox inbox(t.db);
    auto store = [&](const std::string& body, int64_t id_ms, int64_t ts) {
        auto e = chat::testing::text_entry("2", "1", body);
        e.id = chat::new_message_id(id_ms);
        e.ts = ts;
        Transaction tx(t.db);
        inbox.append("1", e);
        tx.commit();
    };
    store("old", 1'000, 1'000);
    store("young", 9'000, 9'000);
    store("young, with an older id", 1'000, 9'000);
    CHECK(Retention(t.db).drop_older_than(5'000, 10) == 1);
    auto left = inbox.entries_after("1", 0, 10);
    REQUIRE(left.size() == 2);
    CHECK(left[0].body == "young");
    CHECK(left[1].body == "young, with an older id");
}

TEST_CASE("cursors and the delivered mark only move forward") {
    Db t;
    Accounts a(t.db);
    a.create_user("1", 1);
    a.add_device("1", "d1", "h", 1);
    Inbox inbox(t.db);
    inbox.advance_cursor("1", "d1", 2);
    inbox.advance_cursor("1", "d1", 1);
    CHECK(a.find_device("1", "d1")->cursor == 2);
    CHECK(inbox.delivered_seq("1") == 2);
}

TEST_CASE("client ids find the sender's earlier entry in the same conversation only") {
    Db t;
    Accounts(t.db).create_user("1", 1);
    Inbox inbox(t.db);
    auto e = chat::testing::text_entry("1", "2", "x");
    e.kind = "sent";
    e.cid = "c1";
    inbox.append("1", e);
    auto again = chat::testing::text_entry("1", "2", "x");
    again.cid = "c1";
    CHECK_THROWS_AS(inbox.append("1", again), Error);
    REQUIRE(inbox.find_by_cid("1", "c1", "2"));
    CHECK(inbox.find_by_cid("1", "c1", "2")->id == e.id);
    CHECK(inbox.find_by_id("1", e.id)->cid == "c1");
    // The same cid towards another recipient or a group is another message.
    CHECK_FALSE(inbox.find_by_cid("1", "c1", "3"));
    auto elsewhere = chat::testing::text_entry("1", "3", "y");
    elsewhere.kind = "sent";
    elsewhere.cid = "c1";
    inbox.append("1", elsewhere);
    auto in_group = chat::testing::text_entry("1", "", "z");
    in_group.kind = "sent";
    in_group.gid = "g1";
    in_group.cid = "c1";
    inbox.append("1", in_group);
    CHECK(inbox.find_by_cid("1", "c1", "3")->id == elsewhere.id);
    CHECK(inbox.find_by_cid("1", "c1", "g1")->id == in_group.id);
    CHECK(inbox.find_by_cid("1", "c1", "2")->id == e.id);
}

TEST_CASE("groups and blocks record ACL changes for the users they affect") {
    Db t;
    Accounts a(t.db);
    for (auto u : {"1", "2", "3"}) a.create_user(u, 1);
    Groups g(t.db);
    Blocks b(t.db);
    AclChanges changes(t.db);
    int64_t start = changes.latest_id();
    g.create("g1", "friends", "1", {"2"}, 1);
    CHECK(g.is_admin("g1", "1"));
    CHECK(g.is_member("g1", "2"));
    CHECK_FALSE(g.is_admin("g1", "2"));
    CHECK(g.add_member("g1", "3", false, "1"));
    CHECK_FALSE(g.add_member("g1", "3", false, "1"));
    CHECK(g.remove_member("g1", "2"));
    CHECK(g.members("g1") == std::vector<std::string>{"1", "3"});
    CHECK(g.groups_of("3") == std::vector<std::string>{"g1"});
    CHECK(b.block("1", "2"));
    CHECK(b.is_blocked("1", "2"));
    CHECK(b.blockers_of("2") == std::vector<std::string>{"1"});
    auto batch = changes.since(start);
    CHECK(batch.users == std::vector<std::string>{"1", "2", "3", "2", "2"});
    CHECK(changes.since(batch.last_id).users.empty());
    CHECK(b.unblock("1", "2"));
    CHECK(b.blockers_of("2").empty());
}

TEST_CASE("a user who blocked you cannot be added by you to a group, at its creation or later") {
    Db t;
    Accounts a(t.db);
    for (auto u : {"1", "2", "3"}) a.create_user(u, 1);
    Blocks b(t.db);
    b.block("2", "1");
    Groups g(t.db);
    {
        Transaction tx(t.db);
        CHECK_THROWS_AS(g.create("g1", "x", "1", {"3", "2"}, 1), NotAllowed);
    }  // rolled back: no group
    CHECK_FALSE(g.find("g1"));
    g.create("g1", "x", "1", {"3"}, 1);
    CHECK_THROWS_WITH(g.add_member("g1", "2", false, "1"), Catch::Contains("2 blocked 1"));
    CHECK_FALSE(g.is_member("g1", "2"));
    CHECK(g.add_member("g1", "2", false, "3"));  // someone 2 did not block may
    g.create("g2", "y", "2", {"1"}, 1);  // the blocker may add the one they blocked
    CHECK(g.is_member("g2", "1"));
}

TEST_CASE("a group whose last admin left gets a new admin") {
    Db t;
    Accounts a(t.db);
    for (auto u : {"1", "2", "3"}) a.create_user(u, 1);
    Groups g(t.db);
    g.create("g1", "x", "2", {"3", "1"}, 1);
    CHECK_FALSE(g.ensure_admin("g1"));  // still has its admin
    g.remove_member("g1", "2");
    CHECK(g.ensure_admin("g1") == std::optional<std::string>("1"));
    CHECK(g.is_admin("g1", "1"));
    CHECK_FALSE(g.is_admin("g1", "3"));
    g.remove_member("g1", "1");
    g.remove_member("g1", "3");
    CHECK_FALSE(g.ensure_admin("g1"));  // nobody left
}

TEST_CASE("group outbox keeps messages until marked done") {
    Db t;
    GroupOutbox out(t.db);
    chat::Entry e = chat::testing::text_entry("1", "", "hi");
    e.gid = "g1";
    out.enqueue(e);
    out.enqueue(e);  // idempotent
    REQUIRE(out.pending(10).size() == 1);
    CHECK(out.find(e.id)->body == "hi");
    out.mark_done(e.id);
    CHECK(out.pending(10).empty());
}

TEST_CASE("a push is claimed once per window, whichever connection asks") {
    Db t;
    Database other(t.store.location());  // a second bridge
    PushClaims first(t.db), second(other);
    CHECK_FALSE(first.claim("1", 1000, 500).has_value());  // claimed
    CHECK(second.claim("1", 1200, 500) == 1000);           // within the window: not again
    CHECK(first.claim("1", 1499, 500) == 1000);
    CHECK_FALSE(second.claim("1", 1500, 500).has_value());  // the window passed
    CHECK_FALSE(second.claim("2", 1500, 500).has_value());  // per user
}

TEST_CASE("group admin rules live in storage: the last admin stays, admins-only sending narrows who may post") {
    Db t;
    Accounts a(t.db);
    for (auto u : {"1", "2", "3"}) a.create_user(u, 1);
    Groups g(t.db);
    g.create("g1", "friends", "1", {"2"}, 1);
    CHECK_THROWS_AS(g.set_admin("g1", "1", false, "1", 2), NotAllowed);
    CHECK(g.set_admin("g1", "2", true, "1", 2));
    CHECK_FALSE(g.set_admin("g1", "2", true, "1", 2));
    CHECK(g.set_admin("g1", "1", false, "1", 3));
    GroupSettingsChange change;
    change.admins_only_send = true;
    change.name = "best friends";
    g.update_settings("g1", change, "2", 4);
    CHECK(g.postable_groups_of("1").empty());
    CHECK(g.postable_groups_of("2") == std::vector<std::string>{"g1"});
    CHECK(g.find("g1")->name == "best friends");
    // Each change is in the feed with its actor; settings name their fields.
    Fanout f(t.db);
    std::vector<std::string> feed;
    for (const auto& e : f.group_events_after(0, 100)) feed.push_back(e.change + ":" + e.user + " by " + e.actor + " " + e.detail);
    CHECK(feed == std::vector<std::string>{"added:1 by 1 ", "added:2 by 1 ", "promoted:2 by 1 ", "demoted:1 by 1 ",
                                           "settings:2 by 2 name,admins_only_send"});
}

TEST_CASE("who can add me: nobody, or contacts only (a shared group or a direct conversation)") {
    Db t;
    Accounts a(t.db);
    for (auto u : {"1", "2", "3"}) a.create_user(u, 1);
    Profiles p(t.db);
    Profile shy;
    shy.group_adds = nobody;
    p.put("2", shy, 1);
    Profile picky;
    picky.group_adds = contacts_only;
    p.put("3", picky, 1);
    Groups g(t.db);
    g.create("g1", "x", "1", {}, 1);
    CHECK_THROWS_AS(g.add_member("g1", "2", false, "1"), NotAllowed);
    CHECK_THROWS_AS(g.add_member("g1", "3", false, "1"), NotAllowed);
    CHECK(g.add_member("g1", "2", false, ""));  // the operator
    CHECK(Contacts(t.db).are_contacts("1", "2"));
    CHECK_FALSE(Contacts(t.db).are_contacts("1", "3"));
}

TEST_CASE("push tokens: one per device, a pushkey on one device only, claimed once per window, dropped when rejected") {
    Db t;
    Accounts a(t.db);
    a.create_user("1", 1);
    a.add_device("1", "d1", "h1", 1);
    a.add_device("1", "d2", "h2", 1);
    PushTokens p(t.db);
    p.put("1", "d1", PushTarget{"", "fcm", "chat.fcm", "key-a", 0}, 10);
    p.put("1", "d2", PushTarget{"", "fcm", "chat.fcm", "key-a", 0}, 11);  // moved to d2
    REQUIRE(p.targets("1").size() == 1);
    CHECK(p.targets("1")[0].device == "d2");
    CHECK(p.claim("1", "d2", 1000, 500));
    CHECK_FALSE(p.claim("1", "d2", 1200, 500));
    CHECK(p.claim("1", "d2", 1600, 500));
    CHECK(p.reject("key-a") == 1);
    CHECK(p.targets("1").empty());
}

TEST_CASE("a change of the shown profile fields feeds profile_events, a settings change does not") {
    Db t;
    Accounts a(t.db);
    for (auto u : {"1", "2", "3"}) a.create_user(u, 1);
    Groups g(t.db);
    g.create("g1", "x", "1", {"2"}, 1);
    Profiles p(t.db);
    Profile mine;
    mine.display_name = "One";
    p.put("1", mine, 5);
    mine.about_visibility = nobody;
    p.put("1", mine, 6);
    Fanout f(t.db);
    auto events = f.profile_events_after(0, 10);
    REQUIRE(events.size() == 1);
    CHECK(events[0].user == "1");
    CHECK(events[0].ts == 5);
    CHECK(p.get("1").about_visibility == nobody);
    CHECK(Contacts(t.db).of("1") == std::vector<std::string>{"2"});
    CHECK(Contacts(t.db).of("3").empty());
}

TEST_CASE("imported entries stored many per statement: replays are skipped quietly, clashes reported") {
    Db t;
    Accounts(t.db).create_user("1", 1);
    Inbox inbox(t.db);
    std::string user = "1", no_device;
    std::vector<chat::Entry> entries;
    const size_t count = Inbox::import_chunk * 2 + 5;  // two full statements and a rest row by row
    for (size_t i = 0; i < count; ++i) {
        auto e = chat::testing::text_entry("2", "1", "m" + std::to_string(i));
        e.id = chat::format_message_id(static_cast<int64_t>(1000 + i), 0);
        e.seq = static_cast<int64_t>(i + 1);
        entries.push_back(e);
    }
    inbox.insert_imported(user, entries[3], no_device);  // imported before: a replay now
    auto clash = chat::testing::text_entry("2", "1", "clash");
    clash.id = chat::format_message_id(5000, 0);
    clash.seq = 10;  // the seq of entries[9]: refused, never dropped quietly
    std::vector<chat::Entry> all = entries;
    all.insert(all.begin() + 20, clash);
    std::vector<ImportRow> rows;
    for (const auto& e : all) rows.push_back(ImportRow{&user, &e, &no_device});
    Transaction tx(t.db);
    auto clashes = inbox.insert_imported_many(rows);
    tx.commit();
    REQUIRE(clashes.size() == 1);
    CHECK(all[clashes[0]].id == clash.id);
    auto stored = inbox.entries_after("1", 0, 1000);
    REQUIRE(stored.size() == count);
    CHECK(stored[9].body == "m9");
    CHECK(stored.back().body == "m" + std::to_string(count - 1));
}
