// Unit tests for chatctl: commands, output, exit codes and one-line errors.
#include "storage/accounts.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/social.h"
#include "storage/policy.h"
#include "support/pg_cluster.h"
#include "support/process.h"
#include "support/text_entry.h"
#include "tools/operator_cli.h"

#include <catch2/catch.hpp>

#include <sstream>

namespace {

struct Cli {
    chat::testing::TempDir dir;
    std::string out, err;
    int run(std::vector<std::string> args) {
        args.insert(args.begin(), {"--db", (dir.path() / "c.db").string()});
        std::ostringstream o, e;
        int rc = chat::tools::run_operator_cli(args, o, e);
        out = o.str();
        err = e.str();
        return rc;
    }
};

}  // namespace

TEST_CASE("create a user and a device; the token is printed once") {
    Cli c;
    CHECK(c.run({"user", "add", "15550001"}) == 0);
    CHECK(c.run({"device", "add", "15550001"}) == 0);
    CHECK(c.out.find("device d1 client_id 15550001/d1") != std::string::npos);
    CHECK(c.out.find("token ") != std::string::npos);
    CHECK(c.run({"device", "list", "15550001"}) == 0);
    CHECK(c.out == "d1 live offline cursor=0\n");
    CHECK(c.run({"device", "revoke", "15550001", "d1"}) == 0);
    CHECK(c.run({"device", "list", "15550001"}) == 0);
    CHECK(c.out.find("revoked") != std::string::npos);
    CHECK(c.run({"user", "list"}) == 0);
    CHECK(c.out.find("15550001 devices=0") == 0);
}

TEST_CASE("a device can be switched to the compact encoding") {
    Cli c;
    c.run({"user", "add", "15550001"});
    c.run({"device", "add", "15550001"});
    CHECK(c.run({"device", "compact", "15550001", "d1", "on"}) == 0);
    {
        chat::storage::Database db((c.dir.path() / "c.db").string());
        CHECK(chat::storage::Policy(db).encoding("15550001", "d1") == chat::Encoding::compact);
    }
    CHECK(c.run({"device", "compact", "15550001", "d1", "off"}) == 0);
    CHECK(c.run({"device", "compact", "15550001", "d9", "on"}) == 1);
    CHECK(c.run({"device", "compact", "15550001", "d1", "maybe"}) == 2);
}

TEST_CASE("a device can pick its encoding, lean included") {
    Cli c;
    c.run({"user", "add", "15550001"});
    c.run({"device", "add", "15550001"});
    CHECK(c.run({"device", "encoding", "15550001", "d1", "lean"}) == 0);
    {
        chat::storage::Database db((c.dir.path() / "c.db").string());
        CHECK(chat::storage::Policy(db).encoding("15550001", "d1") == chat::Encoding::lean);
    }
    CHECK(c.run({"device", "encoding", "15550001", "d1", "json"}) == 0);
    {
        chat::storage::Database db((c.dir.path() / "c.db").string());
        CHECK(chat::storage::Policy(db).encoding("15550001", "d1") == chat::Encoding::json);
    }
    CHECK(c.run({"device", "encoding", "15550001", "d9", "lean"}) == 1);
    CHECK(c.run({"device", "encoding", "15550001", "d1", "xml"}) == 2);
}

TEST_CASE("bad input gets exit code 1 and one line on stderr") {
    Cli c;
    CHECK(c.run({"user", "add", "+1555"}) == 1);
    CHECK(c.err == "chatctl: '+1555' is not a user id (E.164 digits without '+')\n");
    CHECK(c.run({"device", "add", "15550001"}) == 1);
    CHECK(c.err == "chatctl: no such user 15550001\n");
    c.run({"user", "add", "15550001"});
    CHECK(c.run({"user", "add", "15550001"}) == 1);
    CHECK(c.run({"device", "add", "15550001", "BAD"}) == 1);
    CHECK(c.run({"device", "revoke", "15550001", "d9"}) == 1);
    CHECK(c.run({"group", "create", "g1", "x", "15550009"}) == 1);
}

TEST_CASE("unknown commands print usage and exit 2") {
    Cli c;
    CHECK(c.run({"frobnicate"}) == 2);
    CHECK(c.err.find("usage: chatctl") == 0);
    CHECK(c.run({"user", "add"}) == 2);
}

TEST_CASE("groups and blocks") {
    Cli c;
    for (auto u : {"15550001", "15550002", "15550003"}) c.run({"user", "add", u});
    CHECK(c.run({"group", "create", "g1", "friends", "15550001", "15550002"}) == 0);
    CHECK(c.run({"group", "add", "g1", "15550003"}) == 0);
    CHECK(c.run({"group", "add", "g1", "15550003"}) == 1);
    CHECK(c.run({"group", "remove", "g1", "15550002"}) == 0);
    CHECK(c.run({"group", "show", "g1"}) == 0);
    CHECK(c.out == "g1 friends\nmember 15550001\nmember 15550003\nadmin 15550001\n");
    CHECK(c.run({"block", "15550001", "15550002"}) == 0);
    CHECK(c.run({"unblock", "15550001", "15550002"}) == 0);
}

TEST_CASE("a group create is refused with one line when a member blocked the admin") {
    Cli c;
    for (auto u : {"15550001", "15550002"}) c.run({"user", "add", u});
    REQUIRE(c.run({"block", "15550002", "15550001"}) == 0);
    CHECK(c.run({"group", "create", "g1", "friends", "15550001", "15550002"}) == 1);
    CHECK(c.err == "chatctl: user 15550002 blocked 15550001, who therefore cannot add them to a group\n");
    CHECK(c.run({"group", "show", "g1"}) == 1);  // nothing was created
}

TEST_CASE("copy-to moves a SQLite database into an empty one, and refuses one that has users") {
    Cli c;
    c.run({"user", "add", "15550001"});
    c.run({"user", "add", "15550002"});
    c.run({"device", "add", "15550001"});
    c.run({"group", "create", "g1", "team", "15550001", "15550002"});
    c.run({"block", "15550002", "15550001"});
    {
        chat::storage::Database db((c.dir.path() / "c.db").string());
        chat::storage::Inbox inbox(db);
        auto e = chat::testing::text_entry("15550002", "15550001", std::string("bin\0ary", 7));
        chat::storage::Transaction tx(db);
        REQUIRE(inbox.append("15550001", e));
        tx.commit();
        inbox.advance_cursor("15550001", "d1", 1);
    }
    // The target: PostgreSQL on the .pg run, another SQLite file otherwise.
    chat::testing::TestDatabase target(c.dir.path() / "target.db");
    REQUIRE(c.run({"copy-to", target.location()}) == 0);
    CHECK(c.out.find("inbox 1\n") != std::string::npos);
    {
        chat::storage::Database db(target.location());
        chat::storage::Accounts accounts(db);
        CHECK(accounts.list_users().size() == 2);
        CHECK(accounts.find_device("15550001", "d1")->cursor == 1);
        auto entries = chat::storage::Inbox(db).entries_after("15550001", 0, 10);
        REQUIRE(entries.size() == 1);
        CHECK(entries[0].body == std::string("bin\0ary", 7));
        CHECK(chat::storage::Groups(db).members("g1") == std::vector<std::string>{"15550001", "15550002"});
        CHECK(chat::storage::Blocks(db).is_blocked("15550002", "15550001"));
        // The feeds go on after the copied ids.
        chat::storage::AclChanges feed(db);
        int64_t before = feed.latest_id();
        chat::storage::Blocks(db).unblock("15550002", "15550001");
        CHECK(feed.latest_id() > before);
    }
    CHECK(c.run({"copy-to", target.location()}) == 1);
    CHECK(c.err.find("not empty") != std::string::npos);
}
