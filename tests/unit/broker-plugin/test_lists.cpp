// Unit tests of broadcast lists in ChatBroker: the owner's permission, the sender's copy and
// the outbox record for the bridge, and a retried publish.
#include "broker-plugin/broker.h"
#include "broker_world.h"
#include "storage/broadcast.h"
#include "storage/db.h"
#include "storage/inbox.h"
#include "storage/outbox.h"
#include "storage/social.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chat::broker;
using Verdict = MessageResult::Verdict;

TEST_CASE("a list message stores one sent copy naming the list and one outbox record; a retry stores nothing more") {
    World w;
    {
        auto db = w.open();
        chat::storage::Transaction tx(db);
        chat::storage::BroadcastLists(db).create("15550001", "lfam", "family", {"15550002", "15550003"}, 1);
        tx.commit();
    }
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550002/d1"));
    CHECK(w.broker->acl(w.key(0), Access::write, "l/lfam", 5));
    CHECK_FALSE(w.broker->acl(w.key(1), Access::write, "l/lfam", 5));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "l/lother", 5));

    auto r = w.broker->on_message(w.key(0), "l/lfam", "hello all", {{"cid", "c-1"}});
    REQUIRE(r.verdict == Verdict::rewrite);
    CHECK(r.rewritten.topic == "l/lfam");  // for the bridge's fan-out
    auto shared = chat::entry_from_json(r.rewritten.payload);
    CHECK(shared.gid == "lfam");
    CHECK(shared.to.empty());
    CHECK(shared.cid.empty());
    auto retry = w.broker->on_message(w.key(0), "l/lfam", "hello all", {{"cid", "c-1"}});
    REQUIRE(retry.verdict == Verdict::rewrite);
    CHECK(retry.rewritten.topic == "l/lfam");
    CHECK(chat::entry_from_json(retry.rewritten.payload).id == shared.id);

    w.broker->wait_imported();
    auto db = w.open();
    auto own = chat::storage::Inbox(db).entries_after("15550001", 0, 10);
    REQUIRE(own.size() == 1);
    CHECK(own[0].kind == "sent");
    CHECK(own[0].to == "lfam");
    CHECK(own[0].id == shared.id);
    CHECK(chat::storage::Inbox(db).entries_after("15550002", 0, 10).empty());  // the bridge's job
    auto pending = chat::storage::GroupOutbox(db).pending(10);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].gid == "lfam");
}

TEST_CASE("a list message is refused while a member who would get it has a full queue, as a group message is") {
    World w([](Config& c) { c.max_pending = 2; });
    {
        auto db = w.open();
        chat::storage::Transaction tx(db);
        chat::storage::BroadcastLists(db).create("15550001", "lfull", "with bob", {"15550002", "15550003"}, 1);
        chat::storage::BroadcastLists(db).create("15550001", "lcarol", "carol only", {"15550003"}, 1);
        tx.commit();
    }
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(2, "15550003/d1"));
    for (const char* text : {"one", "two"}) {  // bob's queue: 2 undelivered entries, the cap
        REQUIRE(w.broker->on_message(w.key(2), "m/15550002", text, {}).verdict == Verdict::rewrite);
    }
    // Carol's own queue holds the sent copies: her ack leaves bob's the only full one.
    REQUIRE(w.broker->on_message(w.key(2), "k/15550003", R"({"seq":2})", {}).verdict != MessageResult::Verdict::deny);
    w.broker->wait_imported();
    auto refused = w.broker->on_message(w.key(0), "l/lfull", "to all", {});
    CHECK(refused.verdict == Verdict::deny);
    CHECK(refused.refusal == Refusal::pending_cap);
    CHECK(w.broker->on_message(w.key(0), "l/lcarol", "to carol", {}).verdict == Verdict::rewrite);
    {
        auto db = w.open();
        chat::storage::Blocks(db).block("15550002", "15550001");  // bob would not get it anyway
    }
    CHECK(w.broker->on_message(w.key(0), "l/lfull", "to all but bob", {}).verdict == Verdict::rewrite);
}
