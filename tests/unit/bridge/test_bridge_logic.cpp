// Unit tests of the bridge logic over a real SQLite file, with a recording Publisher (no MQTT).
#include "bridge/config.h"
#include "bridge/expiry.h"
#include "bridge/group_fanout.h"
#include "bridge/receipts.h"
#include "bridge/sync_replay.h"

#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/inbox.h"
#include "storage/outbox.h"
#include "storage/policy.h"
#include "storage/social.h"
#include "support/process.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace chat;
using namespace chat::bridge;

namespace {

struct Recorder : NodePublisher {
    std::vector<std::pair<std::string, std::string>> sent;
    int flushes = 0;
    void publish(const std::string& topic, std::string payload, int64_t) override {
        sent.emplace_back(topic, std::move(payload));
    }
    Acks answer = Acks::all;  // what the broker says to every publish
    Acks flush() override {
        ++flushes;
        return answer;
    }
    nlohmann::json batch(size_t i) const { return nlohmann::json::parse(sent.at(i).second); }
};

struct World {
    testing::TempDir dir;
    storage::Database db{(dir.path() / "chat.db").string()};
    int64_t now = 1'700'000'000'000;
    std::function<int64_t()> clock = [this] { return now; };
    Recorder out;

    World() {
        storage::Accounts accounts(db);
        for (auto u : {"1001", "1002", "1003"}) {
            accounts.create_user(u, now);
            accounts.add_device(u, "d1", hash_token("t"), now);
        }
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
    void store(const std::string& user, Entry e) {
        storage::Transaction tx(db);
        storage::Inbox(db).append(user, e);
        tx.commit();
    }
    // What the plugin's import of a device's ack does.
    void ack(const std::string& user, int64_t seq) {
        storage::Transaction tx(db);
        storage::Inbox(db).advance_cursor(user, "d1", seq);
        tx.commit();
    }
};

}  // namespace

TEST_CASE("group fan-out sends every member but the sender in chunked batches, once per message") {
    World w;
    {
        storage::Transaction tx(w.db);
        storage::Groups(w.db).create("gteam", "team", "1001", {"1002", "1003"}, w.now);
        tx.commit();
    }
    Entry m = w.message("1001", "hello", "gteam");
    storage::GroupOutbox(w.db).enqueue(m);
    GroupFanout fanout(w.db, w.out, w.clock, 1);  // chunks of one member: several batches
    CHECK(fanout.fan_out(m).members == 2);
    // The plugin stores each batch (the member's own seq) before its PUBACK: no seq here.
    REQUIRE(w.out.sent.size() == 2);
    CHECK(w.out.sent[0].first == "b/fanout");
    auto batch = w.out.batch(0);
    CHECK(batch["to"] == nlohmann::json::array({"1002"}));
    CHECK_FALSE(batch["entry"].contains("seq"));
    CHECK(batch["entry"]["body"] == "hello");
    CHECK(batch["entry"]["gid"] == "gteam");
    CHECK(batch["entry"]["id"] == m.id);
    CHECK(w.out.batch(1)["to"] == nlohmann::json::array({"1003"}));
    CHECK(w.out.flushes == 1);  // every batch acknowledged before the message is marked done
    // A redelivered g/ publish or a restarted bridge finds it done: nothing sent again.
    CHECK(fanout.fan_out(m).members == 0);
    CHECK(w.out.sent.size() == 2);
    CHECK(storage::GroupOutbox(w.db).pending(10).empty());
}

TEST_CASE("a live fan-out does not wait for its outbox row: it is marked done once the row arrives") {
    World w;
    {
        storage::Transaction tx(w.db);
        storage::Groups(w.db).create("gteam", "team", "1001", {"1002", "1003"}, w.now);
        tx.commit();
    }
    GroupFanout fanout(w.db, w.out, w.clock);
    // The g/ publish reaches the bridge before the plugin's import wrote the outbox rows.
    Entry first = w.message("1001", "one", "gteam");
    Entry second = w.message("1001", "two", "gteam");
    auto result = fanout.fan_out(first);
    CHECK(result.members == 2);
    CHECK_FALSE(result.finished);
    CHECK(fanout.fan_out(second).members == 2);  // not held up behind the first one's import
    CHECK(fanout.finish_delivered(w.now) == 0);
    CHECK(fanout.awaiting_rows());
    storage::GroupOutbox outbox(w.db);
    outbox.enqueue(first);  // the import
    CHECK(fanout.finish_delivered(w.now) == 1);
    CHECK(outbox.done(first.id) == true);
    // A row that never comes within 2 s is left to the pending scan, which finds it once it does.
    CHECK(fanout.finish_delivered(w.now + 2001) == 0);
    CHECK_FALSE(fanout.awaiting_rows());
    outbox.enqueue(second);
    CHECK(fanout.fan_out_pending(w.now) == 1);
    CHECK(outbox.pending(10).empty());
}

TEST_CASE("a fan-out whose batches were not all acknowledged stays pending") {
    World w;
    w.out.answer = Acks::missing;
    {
        storage::Transaction tx(w.db);
        storage::Groups(w.db).create("gteam", "team", "1001", {"1002"}, w.now);
        tx.commit();
    }
    Entry m = w.message("1001", "hello", "gteam");
    storage::GroupOutbox(w.db).enqueue(m);
    GroupFanout fanout(w.db, w.out, w.clock);
    auto result = fanout.fan_out(m);
    CHECK(result.members == 0);
    CHECK_FALSE(result.finished);
    CHECK(storage::GroupOutbox(w.db).pending(10).size() == 1);
}

TEST_CASE("membership changes become one notice per member") {
    World w;
    {
        storage::Transaction tx(w.db);
        storage::Groups(w.db).create("gteam", "team", "1001", {"1002"}, w.now);
        tx.commit();
    }
    GroupFanout fanout(w.db, w.out, w.clock);
    CHECK(fanout.emit_notices() == 2);
    CHECK(fanout.emit_notices() == 0);  // the cursor moved
    storage::Groups(w.db).remove_member("gteam", "1002");
    CHECK(fanout.emit_notices() == 2);  // the remaining member and the removed one
    REQUIRE(w.out.sent.size() == 3);    // the removed member's batch comes after the members'
    CHECK(w.out.batch(2)["to"] == nlohmann::json::array({"1002"}));
    auto notice = entry_from_json(w.out.batch(2)["entry"].dump());
    CHECK(notice.kind == "notice");
    CHECK(nlohmann::json::parse(notice.body)["removed"] == nlohmann::json::array({"1002"}));
}

TEST_CASE("a delivered range yields one receipt per original sender") {
    World w;
    Entry a1 = w.message("1001", "a1"), a2 = w.message("1001", "a2"), c1 = w.message("1003", "c1");
    w.store("1002", a1);
    w.store("1002", a2);
    w.store("1002", c1);
    w.ack("1002", 3);
    Receipts receipts(w.db, w.out, 2);  // pages of two entries
    CHECK(receipts.on_ack("1002", 3, 5000) == 2);  // page 1: both of 1001; page 2: 1003
    REQUIRE(w.out.sent.size() == 2);
    CHECK(w.out.sent[0].first == "b/fanout");
    CHECK(w.out.batch(0)["to"] == nlohmann::json::array({"1001"}));
    auto j = w.out.batch(0)["entry"];
    CHECK(j["kind"] == "receipt");
    CHECK(j["from"] == "1002");
    CHECK(j["to"] == "1001");
    CHECK(j["delivered"] == nlohmann::json::array({a1.id, a2.id}));
    CHECK(w.out.batch(1)["to"] == nlohmann::json::array({"1003"}));
    CHECK(j["ts"] == 5000);  // when the ack arrived
    CHECK(w.out.batch(0)["entry"]["id"] != w.out.batch(1)["entry"]["id"]);

    // The same ack again (redelivered after a bridge crash): those receipts are made already.
    CHECK(receipts.on_ack("1002", 3, 5000) == 0);
    CHECK(receipts.catch_up(w.now) == 0);
    CHECK(w.out.sent.size() == 2);
}

TEST_CASE("receipts for an ack no bridge saw are made from the delivered mark, once") {
    World w;
    Entry a1 = w.message("1001", "a1"), c1 = w.message("1003", "c1");
    w.store("1002", a1);
    w.store("1002", c1);
    w.ack("1002", 2);  // the plugin imported the ack; its k/ forward never reached a bridge
    Receipts receipts(w.db, w.out);
    CHECK(receipts.catch_up(w.now) == 1);
    REQUIRE(w.out.sent.size() == 2);
    CHECK(w.out.batch(0)["entry"]["delivered"] == nlohmann::json::array({a1.id}));
    CHECK(w.out.batch(0)["entry"]["ts"] == w.now);  // when a bridge found it owed
    CHECK(w.out.batch(1)["entry"]["delivered"] == nlohmann::json::array({c1.id}));
    CHECK(receipts.catch_up(w.now) == 0);  // made: nothing owed any more
    CHECK(receipts.on_ack("1002", 2, w.now) == 0);
    CHECK(w.out.sent.size() == 2);
}

TEST_CASE("a receipt run cut short is redone alike: the same ids, the same stamp") {
    World w;
    Entry a1 = w.message("1001", "a1");
    w.store("1002", a1);
    w.ack("1002", 1);
    w.out.answer = Acks::missing;  // the bridge dies before the broker's PUBACKs
    CHECK(Receipts(w.db, w.out).on_ack("1002", 1, 5000) == 0);
    REQUIRE_FALSE(w.out.sent.empty());
    auto first = w.out.batch(0);
    w.store("1002", w.message("1003", "later"));  // more arrives and is acked meanwhile
    w.ack("1002", 2);
    w.out.answer = Acks::all;
    w.out.sent.clear();
    Receipts again(w.db, w.out);  // a restarted bridge
    CHECK(again.catch_up(w.now) == 1);
    REQUIRE(w.out.sent.size() == 1);
    CHECK(w.out.batch(0) == first);  // the plugin stores it once, whoever sends it
    CHECK(again.catch_up(w.now) == 1);  // then the next run: the later entry
    REQUIRE(w.out.sent.size() == 2);
    CHECK(w.out.batch(1)["entry"]["to"] == "1003");
    CHECK(again.catch_up(w.now) == 0);
}

TEST_CASE("receipts the broker refuses are logged and not made again") {
    World w;
    w.store("1002", w.message("1001", "a1"));
    w.ack("1002", 1);
    w.out.answer = Acks::refused;
    Receipts receipts(w.db, w.out);
    CHECK(receipts.catch_up(w.now) == 1);
    CHECK(receipts.catch_up(w.now) == 0);
    CHECK(w.out.sent.size() == 1);  // one attempt: the same batch would get the same answer
}

TEST_CASE("the fan-out catch-up ends when messages stay pending, and marks refused ones done") {
    World w;
    {
        storage::Transaction tx(w.db);
        storage::Groups(w.db).create("gteam", "team", "1001", {"1002"}, w.now);
        tx.commit();
    }
    storage::GroupOutbox outbox(w.db);
    outbox.enqueue(w.message("1001", "one", "gteam"));
    outbox.enqueue(w.message("1001", "two", "gteam"));
    GroupFanout fanout(w.db, w.out, w.clock);
    w.out.answer = Acks::missing;  // the broker does not answer: try again at the next scan
    CHECK(fanout.catch_up(w.now) == 0);
    CHECK(outbox.pending(10).size() == 2);
    w.out.answer = Acks::refused;  // the broker refuses them for good
    CHECK(fanout.catch_up(w.now) == 2);
    CHECK(outbox.pending(10).empty());
    CHECK(fanout.catch_up(w.now) == 0);
}

TEST_CASE("sync replays in seq order, page by page, on the device topic") {
    World w;
    for (int i = 0; i < 250; ++i) w.store("1002", w.message("1001", "m" + std::to_string(i)));
    SyncReplay replay(w.db, w.out, 100);
    replay.request({"1002", "d1", 20, 250});
    int pages = 0;
    SyncReplay::Step step;
    while ((step = replay.step()) == SyncReplay::Step::page) ++pages;
    CHECK(step == SyncReplay::Step::finished);  // the third page, the job's last
    CHECK(pages == 2);
    CHECK(replay.step() == SyncReplay::Step::idle);
    CHECK(w.out.flushes == 3);
    REQUIRE(w.out.sent.size() == 3);  // one b/replay batch per page
    int64_t expected = 21;
    for (const auto& [topic, payload] : w.out.sent) {
        CHECK(topic == "b/replay");
        auto batch = nlohmann::json::parse(payload);
        CHECK(batch["user"] == "1002");
        CHECK(batch["device"] == "d1");
        for (const auto& e : batch["entries"]) CHECK(entry_from_json(e.dump()).seq == expected++);
    }
    CHECK(expected == 251);
}

TEST_CASE("replay batches carry stored entries as devices receive them; the plugin picks the encoding") {
    World w;
    Entry binary = w.message("1001", std::string("\x00\xff", 2));
    binary.expires_ms = w.now + 60'000;
    w.store("1002", binary);
    storage::Policy(w.db).set_encoding("1002", "d1", chat::Encoding::compact);
    SyncReplay replay(w.db, w.out, 100);
    replay.request({"1002", "d1", 0, 1});
    replay.step();
    REQUIRE(w.out.sent.size() == 1);
    auto e = nlohmann::json::parse(w.out.sent[0].second)["entries"].at(0);
    CHECK(e["body64"] == "AP8=");
    CHECK(e["exp"] == binary.expires_ms);  // the plugin turns it into the Message Expiry Interval
    CHECK(entry_from_json(e.dump()).body == binary.body);
}

TEST_CASE("expiry drops due disappearing messages, old entries, and acked entries past retention") {
    World w;
    Entry due = w.message("1001", "gone soon");
    due.expires_ms = w.now - 1;
    w.store("1002", due);
    Entry old = w.message("1001", "old");
    old.ts = w.now - 10'000;
    old.id = new_message_id(old.ts);  // an id starts with its entry's ts, which the sweeps read
    w.store("1002", old);
    w.store("1003", old);
    Entry fresh = w.message("1001", "fresh");
    w.store("1002", fresh);
    storage::Transaction tx(w.db);
    storage::Inbox(w.db).advance_cursor("1003", "d1", 1);
    tx.commit();
    Expiry retention_only(w.db, 0, 5'000);
    CHECK(retention_only.sweep(w.now) == 2);  // the due one, and 1003's acked old one
    CHECK(storage::Inbox(w.db).entries_after("1002", 0, 10).size() == 2);
    Expiry expiry(w.db, 5'000, 0);
    CHECK(expiry.sweep(w.now) == 1);  // 1002's unacked old one
    auto left = storage::Inbox(w.db).entries_after("1002", 0, 10);
    REQUIRE(left.size() == 1);
    CHECK(left[0].body == "fresh");
}

TEST_CASE("bridge flags and durations parse, bad ones are refused") {
    CHECK(parse_duration_ms("30d") == 30LL * 86'400'000);
    CHECK(parse_duration_ms("500ms") == 500);
    CHECK(parse_duration_ms("90s") == 90'000);
    CHECK(parse_duration_ms("250") == 250);
    CHECK_THROWS(parse_duration_ms("soon"));
    // Found by fuzz_config: the unit's multiplication overflowed instead of refusing the flag.
    CHECK_THROWS_AS(parse_duration_ms("2222222222222d"), std::invalid_argument);
    CHECK(parse_duration_ms("106751991167d") == 106751991167LL * 86'400'000);
    chat::testing::TempDir dir;
    auto secret = dir.path() / "bridge.secret";
    std::ofstream(secret) << "0123456789abcdef-secret\n";
    std::filesystem::permissions(secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto c = parse_args({"--broker", "10.0.0.1:1999", "--user", "b", "--password-file", secret.string(), "--expiry", "2h"});
    CHECK(c.host == "10.0.0.1");
    CHECK(c.port == 1999);
    CHECK_FALSE(c.tls);
    CHECK(c.password == "0123456789abcdef-secret");
    CHECK(c.expiry_ms == 7'200'000);
    auto tls = parse_args({"--broker", "ssl://broker.example:8883", "--ca-file", "ca.pem", "--user", "b",
                           "--password-file", secret.string()});
    CHECK(tls.tls);
    CHECK(tls.host == "broker.example");
    CHECK(tls.port == 8883);
    CHECK(tls.ca_file == "ca.pem");
    CHECK_THROWS_AS(parse_args({"--broker", "x:1"}), std::invalid_argument);
    // A secret on the command line would show in every process listing: the flag is gone.
    CHECK_THROWS_AS(parse_args({"--user", "b", "--password", "0123456789abcdef-secret"}), std::invalid_argument);
    CHECK_THROWS_AS(parse_args({"--user", "b", "--password-file", secret.string(), "--bogus", "1"}), std::invalid_argument);
    CHECK_THROWS_AS(parse_args({"--broker", "h:4294968179", "--user", "b", "--password-file", secret.string()}),
                    std::invalid_argument);
}

TEST_CASE("the catch-up's copies and completions count once, as the live fan-out's do (the bridge's metrics)") {
    World w;
    {
        storage::Transaction tx(w.db);
        storage::Groups(w.db).create("gteam", "team", "1001", {"1002", "1003"}, w.now);
        tx.commit();
    }
    storage::GroupOutbox(w.db).enqueue(w.message("1001", "missed while down", "gteam"));
    GroupFanout fanout(w.db, w.out, w.clock);
    CHECK(fanout.catch_up(w.now) == 1);
    CHECK(fanout.take_members_sent() == 2);
    CHECK(fanout.take_members_sent() == 0);  // taken once
    Entry live_message = w.message("1002", "live", "gteam");
    storage::GroupOutbox(w.db).enqueue(live_message);
    auto live = fanout.fan_out(live_message);
    CHECK(live.members > 0);
    CHECK(fanout.take_members_sent() == live.members);
    // The same message again (a redelivered publish, or the live copy after the catch-up took
    // it): sent to nobody, and not finished a second time.
    auto again = fanout.fan_out(live_message);
    CHECK(again.members == 0);
    CHECK_FALSE(again.finished);
}
