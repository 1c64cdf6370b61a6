// Unit tests for ChatBroker: auth, stamping, storing, routing and refresh, with no broker.
#include "broker-plugin/broker.h"
#include "broker_world.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/inbox.h"
#include "storage/journal.h"
#include "storage/policy.h"
#include "storage/social.h"
#include "support/process.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace chat::broker;
using Verdict = MessageResult::Verdict;


TEST_CASE("authentication needs a live device token and a matching client id") {
    World w;
    CHECK(w.login(0, "15550001/d1"));
    CHECK_FALSE(w.auth(w.key(1), "15550001/d1", "15550001", "wrong"));
    CHECK_FALSE(w.auth(w.key(1), "15550001/d2", "15550001", w.tokens["15550001/d1"]));
    CHECK_FALSE(w.auth(w.key(1), "other", "15550001", w.tokens["15550001/d1"]));
    CHECK_FALSE(w.auth(w.key(1), "15550002/d1", "15550001", w.tokens["15550002/d1"]));
    CHECK_FALSE(w.auth(w.key(1), "15550001/d1", "", ""));
    CHECK(w.auth(w.key(2), "bridge-1", "bridge", "pw"));
    CHECK_FALSE(w.auth(w.key(3), "bridge-2", "bridge", "nope"));
    // The bridge's secret from a client id that is not a configured bridge id: refused.
    CHECK_FALSE(w.auth(w.key(3), "bridge-2", "bridge", "pw"));
    CHECK_FALSE(w.auth(w.key(3), "15550001/d1", "bridge", "pw"));
    {
        auto db = w.open();
        chat::storage::Accounts(db).revoke_device("15550001", "d2");
    }
    CHECK_FALSE(w.login(4, "15550001/d2"));
}

TEST_CASE("unauthenticated connections are refused everything") {
    World w;
    CHECK_FALSE(w.broker->acl(w.key(0), Access::subscribe, "u/15550001/i", 0));
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {}).verdict == Verdict::deny);
}

TEST_CASE("a direct message is stamped, stored for both sides before returning, and rewritten") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550001/d2"));
    auto r = w.broker->on_message(w.key(0), "m/15550002", "hello", {});
    REQUIRE(r.verdict == Verdict::rewrite);
    CHECK(r.rewritten.topic == "u/15550002/i");
    auto j = nlohmann::json::parse(r.rewritten.payload);
    CHECK(j["from"] == "15550001");
    CHECK(j["to"] == "15550002");
    CHECK(j["seq"] == 1);
    CHECK(j["kind"] == "msg");
    CHECK(j["ts"] == w.now);
    CHECK(j["body"] == "hello");
    // The sender's other device gets the "sent" copy; the sending device does not.
    REQUIRE(r.extra.size() == 1);
    CHECK(r.extra[0].client_id == "15550001/d2");
    CHECK(r.extra[0].message.topic == "u/15550001/d/d2");
    CHECK(nlohmann::json::parse(r.extra[0].message.payload)["kind"] == "sent");

    w.broker->wait_imported();  // durable in the journal already; now in SQLite too
    auto db = w.open();
    chat::storage::Inbox inbox(db);
    auto stored = inbox.entries_after("15550002", 0, 10);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].id == j["id"]);
    auto sent = inbox.entries_after("15550001", 0, 10);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].kind == "sent");
    CHECK(sent[0].id == j["id"]);
}

TEST_CASE("unknown recipients, bad properties and oversize payloads are refused and store nothing") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    CHECK(w.broker->on_message(w.key(0), "m/15559999", "x", {}).verdict == Verdict::deny);
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {{"kind", "weird"}}).verdict == Verdict::deny);
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "x", {{"kind", "edit"}}).verdict == Verdict::deny);
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "m/15550002", 101));
    CHECK(w.broker->acl(w.key(0), Access::write, "m/15550002", 100));
    w.broker->wait_imported();
    auto db = w.open();
    CHECK(chat::storage::Inbox(db).last_seq("15550001") == 0);
}

TEST_CASE("a retried publish with the same cid is stored once and delivered with the same id") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    auto first = w.broker->on_message(w.key(0), "m/15550002", "x", {{"cid", "c-1"}});
    auto again = w.broker->on_message(w.key(0), "m/15550002", "x", {{"cid", "c-1"}});
    REQUIRE(again.verdict == Verdict::rewrite);
    CHECK(again.rewritten.payload == first.rewritten.payload);
    w.broker->wait_imported();
    auto db = w.open();
    CHECK(chat::storage::Inbox(db).last_seq("15550002") == 1);
}

TEST_CASE("receipts, acks and sync requests are validated") {
    World w;
    REQUIRE(w.login(0, "15550002/d1"));
    REQUIRE(w.login(1, "15550001/d1"));
    REQUIRE(w.login(2, "15550003/d1"));
    auto id_of = [](const MessageResult& m) { return nlohmann::json::parse(m.rewritten.payload)["id"].get<std::string>(); };
    std::string a = id_of(w.broker->on_message(w.key(1), "m/15550002", "one", {}));
    std::string b = id_of(w.broker->on_message(w.key(1), "m/15550002", "two", {}));
    std::string from_other = id_of(w.broker->on_message(w.key(2), "m/15550002", "three", {}));
    std::string never_got = id_of(w.broker->on_message(w.key(1), "m/15550003", "four", {}));
    for (auto bad : {"", "nope", "{}", R"({"read":"x"})", R"({"read":[]})", R"({"read":[1]})", R"({"seen":["a"]})"}) {
        INFO(bad);
        CHECK(w.broker->on_message(w.key(0), "r/15550001", bad, {}).verdict == Verdict::deny);
    }
    // Only ids the reader really got from the receipt's recipient: not made up, not another
    // sender's, not someone else's message.
    for (const auto& id : {std::string("a"), from_other, never_got}) {
        INFO(id);
        nlohmann::json read = {{"read", {a, id}}};
        CHECK(w.broker->on_message(w.key(0), "r/15550001", read.dump(), {}).verdict == Verdict::deny);
    }
    nlohmann::json too_many = {{"read", std::vector<std::string>(257, a)}};
    CHECK(w.broker->on_message(w.key(0), "r/15550001", too_many.dump(), {}).verdict == Verdict::deny);
    auto r = w.broker->on_message(w.key(0), "r/15550001", nlohmann::json{{"read", {a, b}}}.dump(), {});
    REQUIRE(r.verdict == Verdict::rewrite);
    auto j = nlohmann::json::parse(r.rewritten.payload);
    CHECK(j["kind"] == "receipt");
    CHECK(j["read"] == nlohmann::json::array({a, b}));

    for (auto bad : {"", "{", R"({"seq":-1})", R"({"seq":"3"})", R"({"seq":1.5})"}) {
        INFO(bad);
        CHECK(w.broker->on_message(w.key(0), "k/15550002", bad, {}).verdict == Verdict::deny);
        CHECK(w.broker->on_message(w.key(0), "s/15550002", bad, {}).verdict == Verdict::deny);
    }
    auto ack = w.broker->on_message(w.key(0), "k/15550002", R"({"seq":5})", {});
    REQUIRE(ack.verdict == Verdict::rewrite);
    CHECK(nlohmann::json::parse(ack.rewritten.payload)["device"] == "d1");
    CHECK(nlohmann::json::parse(ack.rewritten.payload)["ts"] == w.now);  // the receipts' time and id
    auto sync = w.broker->on_message(w.key(0), "s/15550002", R"({"after":3})", {});
    REQUIRE(sync.verdict == Verdict::rewrite);
    CHECK(nlohmann::json::parse(sync.rewritten.payload) == nlohmann::json({{"after", 3}, {"device", "d1"}, {"upto", 3}}));
}

TEST_CASE("typing goes to the ephemeral topic as the plugin's own publish and is never stored") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    auto r = w.broker->on_message(w.key(0), "t/15550002", "typing", {});
    // The client's publish itself goes on to t/, where nobody subscribes: the same PUBACK
    // whether the recipient is online or not.
    REQUIRE(r.verdict == Verdict::pass);
    REQUIRE(r.extra.size() == 1);
    CHECK(r.extra[0].client_id.empty());
    CHECK(r.extra[0].qos == 0);
    CHECK(r.extra[0].message.topic == "u/15550002/e");
    CHECK(nlohmann::json::parse(r.extra[0].message.payload)["from"] == "15550001");
    auto db = w.open();
    CHECK(chat::storage::Inbox(db).last_seq("15550002") == 0);
}

TEST_CASE("block and group changes reach connected users' permissions on the next refresh") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    CHECK(w.broker->acl(w.key(0), Access::write, "m/15550002", 1));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "g/g1", 1));
    {
        auto db = w.open();
        chat::storage::Blocks(db).block("15550002", "15550001");
        chat::storage::Groups(db).create("g1", "x", "15550003", {"15550001"}, 1);
    }
    w.now += 1000;
    w.broker->tick();
    CHECK_FALSE(w.broker->acl(w.key(0), Access::write, "m/15550002", 1));
    CHECK_FALSE(w.broker->acl(w.key(0), Access::read, "p/15550002", 1));
    CHECK(w.broker->acl(w.key(0), Access::write, "g/g1", 1));
}

TEST_CASE("a group message stores the sender's copy and an outbox row for the bridge") {
    World w;
    {
        auto db = w.open();
        chat::storage::Groups(db).create("g1", "x", "15550001", {"15550002"}, 1);
    }
    REQUIRE(w.login(0, "15550001/d1"));
    auto r = w.broker->on_message(w.key(0), "g/g1", "hi all", {});
    REQUIRE(r.verdict == Verdict::rewrite);
    CHECK(r.rewritten.topic == "g/g1");
    auto j = nlohmann::json::parse(r.rewritten.payload);
    CHECK(j["gid"] == "g1");
    w.broker->wait_imported();
    auto db = w.open();
    CHECK(chat::storage::GroupOutbox(db).find(j["id"])->body == "hi all");
    CHECK(chat::storage::Inbox(db).entries_after("15550001", 0, 5).at(0).kind == "sent");
}

TEST_CASE("disconnect records last seen and a replaced connection keeps the device online") {
    World w;
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550001/d1"));  // same client id reconnects; mosquitto then drops the old one
    w.broker->on_disconnect(w.key(0));
    CHECK(w.broker->connected_devices("15550001") == 1);
    w.now = 5555;
    w.broker->on_disconnect(w.key(1));
    CHECK(w.broker->connected_devices("15550001") == 0);
    w.broker->wait_imported();
    auto db = w.open();
    chat::storage::Accounts accounts(db);
    CHECK_FALSE(accounts.find_device("15550001", "d1")->online);
    CHECK(accounts.list_users().at(0).last_seen_ms == 5555);
}

TEST_CASE("CONNECT and DISCONNECT write nothing to SQLite on the broker thread; presence lands after the import",
          "[sqlite]") {
    World w;
    {
        // Another writer holds SQLite's write lock: a write on the broker thread would fail.
        auto other = w.open();
        other.exec("BEGIN IMMEDIATE");
        REQUIRE(w.login(0, "15550001/d1"));
        REQUIRE(w.login(1, "15550001/d2"));
        w.now = 7777;
        REQUIRE_NOTHROW(w.broker->on_disconnect(w.key(1)));
        other.exec("ROLLBACK");
    }
    w.broker->wait_imported();
    auto db = w.open();
    chat::storage::Accounts accounts(db);
    CHECK(accounts.find_device("15550001", "d1")->online);
    CHECK_FALSE(accounts.find_device("15550001", "d2")->online);
    CHECK(accounts.list_users().at(0).last_seen_ms == 7777);
    CHECK(accounts.online_devices("15550001") == 1);
}

TEST_CASE("presence journaled before a kill -9 reaches SQLite at the next start, and nobody stays online") {
    using chat::storage::JournalRecord;
    World w([](Config& c) {
        // What a killed broker leaves: a device came online and another went offline at 4242,
        // in the journal only (the writer is never destroyed tidily, as after a kill).
        chat::storage::JournalWriter journal(c.db_path + ".journal", 0);
        JournalRecord offline{JournalRecord::Op::offline, "15550002", {}, "d2"};
        offline.entry.ts = 4242;
        journal.append({JournalRecord{JournalRecord::Op::online, "15550002", {}, "d1"}});
        journal.append({offline});
    });
    auto db = w.open();
    chat::storage::Accounts accounts(db);
    auto users = accounts.list_users();
    REQUIRE(users.at(1).id == "15550002");
    CHECK(users.at(1).last_seen_ms == 4242);
    CHECK(accounts.online_devices("15550002") == 0);  // the one startup clear comes after the replay
    REQUIRE(w.login(0, "15550002/d1"));
    w.broker->wait_imported();
    CHECK(accounts.online_devices("15550002") == 1);
}

TEST_CASE("a device's encoding is read with its token at CONNECT") {
    World w;
    {
        auto db = w.open();
        chat::storage::Policy(db).set_encoding("15550002", "d2", chat::Encoding::compact);
    }
    REQUIRE(w.login(0, "15550002/d1"));
    REQUIRE(w.login(1, "15550002/d2"));
    // A compact device gets its entries as direct MessagePack copies, not the JSON publish.
    CHECK(w.broker->acl(w.key(0), Access::read, "u/15550002/i", 10));
    CHECK_FALSE(w.broker->acl(w.key(1), Access::read, "u/15550002/i", 10));
    auto db = w.open();
    CHECK(chat::storage::Accounts(db).find_device("15550002", "d2")->encoding == 1);
    CHECK(chat::storage::Accounts(db).find_device("15550002", "d1")->encoding == 0);
}

TEST_CASE("a fan-out batch from the bridge is stored once per member with their seqs, then routed") {
    World w;
    {
        auto db = w.open();
        chat::storage::Policy(db).set_encoding("15550002", "d2", chat::Encoding::compact);
    }
    REQUIRE(w.auth(w.key(0), "chat-bridge-1", "bridge", "pw"));
    REQUIRE(w.login(1, "15550002/d1"));
    REQUIRE(w.login(2, "15550002/d2"));  // compact: gets a MessagePack twin
    REQUIRE(w.login(3, "15550003/d1"));
    REQUIRE(w.broker->on_message(w.key(3), "m/15550002", "earlier", {}).verdict == Verdict::rewrite);
    w.broker->on_disconnect(w.key(3));
    nlohmann::json entry = {{"id", "m1"}, {"kind", "msg"}, {"from", "15550001"}, {"gid", "g1"},
                            {"ts", w.now}, {"body", "hi"}, {"exp", w.now + 1500}};
    nlohmann::json batch = {{"entry", entry}, {"to", {"15550002", "15550003"}}};
    auto r = w.broker->on_message(w.key(0), "b/fanout", batch.dump(), {});
    CHECK(r.verdict == Verdict::pass);  // goes on to b/fanout, which nobody may receive
    REQUIRE(r.extra.size() == 4);
    CHECK(r.extra[0].client_id.empty());
    CHECK(r.extra[0].message.topic == "u/15550002/i");
    CHECK(r.extra[0].expiry_s == 2);
    auto j = nlohmann::json::parse(r.extra[0].message.payload);
    CHECK(j["seq"] == 2);  // after the direct message above
    CHECK(j["body"] == "hi");
    CHECK(r.extra[1].client_id == "15550002/d2");
    auto packed = nlohmann::json::from_msgpack(r.extra[1].message.payload);
    CHECK(packed["seq"] == 2);
    CHECK(packed["body"].is_binary());
    CHECK(r.extra[2].client_id.empty());
    CHECK(nlohmann::json::parse(r.extra[2].message.payload)["seq"] == 2);  // after the sent copy
    // Nobody of 15550003 is connected: the bridge gets a push signal.
    CHECK(r.extra[3].client_id == "chat-bridge-1");
    CHECK(r.extra[3].message.topic == "b/push/15550003");
    // Its sent copy of "earlier" and m1, neither acked: counted in memory, before the import.
    CHECK(nlohmann::json::parse(r.extra[3].message.payload)["pending"] == 2);

    // A retried batch (the bridge crashed before its PUBACK) stores and sends nothing twice.
    CHECK(w.broker->on_message(w.key(0), "b/fanout", batch.dump(), {}).extra.empty());
    w.now += 2000;  // expired in transit: stored (the sweep drops it), nothing goes live
    batch["entry"]["id"] = "m2";
    CHECK(w.broker->on_message(w.key(0), "b/fanout", batch.dump(), {}).extra.empty());
    w.broker->wait_imported();
    auto db = w.open();
    auto stored = chat::storage::Inbox(db).entries_after("15550002", 0, 10);
    REQUIRE(stored.size() == 3);
    CHECK(stored[1].id == "m1");
    CHECK(stored[1].gid == "g1");
    CHECK(stored[2].id == "m2");
    CHECK(stored[2].seq == 3);
}

TEST_CASE("a receipt batch lands in the sender's inbox with the receipt fields as its body") {
    World w;
    REQUIRE(w.auth(w.key(0), "chat-bridge-1", "bridge", "pw"));
    nlohmann::json entry = {{"id", "r1"}, {"kind", "receipt"}, {"from", "15550002"}, {"to", "15550001"},
                            {"ts", w.now}, {"delivered", {"m1", "m2"}}};
    auto r = w.broker->on_message(w.key(0), "b/fanout", nlohmann::json{{"entry", entry}, {"to", {"15550001"}}}.dump(), {});
    CHECK(r.verdict == Verdict::pass);
    w.broker->wait_imported();
    auto db = w.open();
    auto stored = chat::storage::Inbox(db).entries_after("15550001", 0, 10);
    REQUIRE(stored.size() == 1);
    CHECK(stored[0].kind == "receipt");
    CHECK(nlohmann::json::parse(stored[0].body) == nlohmann::json{{"delivered", {"m1", "m2"}}});
    CHECK(nlohmann::json::parse(chat::to_json(stored[0]))["delivered"] == nlohmann::json{"m1", "m2"});
}

TEST_CASE("a replay batch goes straight to the one device, in its encoding") {
    World w;
    {
        auto db = w.open();
        chat::storage::Policy(db).set_encoding("15550002", "d2", chat::Encoding::compact);
    }
    REQUIRE(w.auth(w.key(0), "chat-bridge-1", "bridge", "pw"));
    REQUIRE(w.login(1, "15550002/d1"));
    REQUIRE(w.login(2, "15550002/d2"));
    nlohmann::json entries = nlohmann::json::array();
    for (int seq = 1; seq <= 3; ++seq) {
        entries.push_back({{"id", "m" + std::to_string(seq)}, {"seq", seq}, {"kind", "msg"}, {"from", "15550001"},
                           {"ts", w.now}, {"body64", "AP8="}});
    }
    auto json = w.broker->on_message(
        w.key(0), "b/replay", nlohmann::json{{"user", "15550002"}, {"device", "d1"}, {"entries", entries}}.dump(), {});
    CHECK(json.verdict == Verdict::pass);
    REQUIRE(json.extra.size() == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(json.extra[i].client_id == "15550002/d1");
        CHECK(json.extra[i].message.topic == "u/15550002/d/d1");
        CHECK(nlohmann::json::parse(json.extra[i].message.payload)["seq"] == i + 1);
    }
    auto compact = w.broker->on_message(
        w.key(0), "b/replay", nlohmann::json{{"user", "15550002"}, {"device", "d2"}, {"entries", entries}}.dump(), {});
    REQUIRE(compact.extra.size() == 1);  // the whole page as one publish
    CHECK(compact.extra[0].message.topic == "u/15550002/d/d2");
    auto page = nlohmann::json::from_msgpack(compact.extra[0].message.payload);
    REQUIRE(page.size() == 3);
    CHECK(page[2]["seq"] == 3);
    const std::vector<uint8_t>& body = page[0]["body"].get_binary();
    CHECK(body == std::vector<uint8_t>{0x00, 0xff});
    CHECK_FALSE(page[0].contains("body64"));
    // A device that is not connected gets nothing now; it syncs again when it comes back.
    auto away = w.broker->on_message(
        w.key(0), "b/replay", nlohmann::json{{"user", "15550003"}, {"device", "d1"}, {"entries", entries}}.dump(), {});
    CHECK(away.verdict == Verdict::pass);
    CHECK(away.extra.empty());
}

TEST_CASE("batches are refused from users and when malformed") {
    World w;
    REQUIRE(w.auth(w.key(0), "chat-bridge-1", "bridge", "pw"));
    REQUIRE(w.login(1, "15550002/d1"));
    std::string batch = R"({"entry":{"id":"x","kind":"msg","from":"15550001","ts":1},"to":["15550002"]})";
    CHECK(w.broker->on_message(w.key(1), "b/fanout", batch, {}).verdict == Verdict::deny);
    CHECK(w.broker->on_message(w.key(1), "b/replay", R"({"user":"15550002","device":"d1","entries":[]})", {})
              .verdict == Verdict::deny);
    const char* entry = R"("entry":{"id":"x","kind":"msg","from":"15550001","ts":1})";
    for (std::string bad : {std::string(""), std::string("[]"), std::string(R"({"entry":{}})"),
                            std::string(R"({"entry":1,"to":[]})"), std::string(R"({"entry":{},"to":["15550002"]})"),
                            "{" + std::string(entry) + R"(,"to":["x/y"]})",
                            "{" + std::string(entry) + R"(,"to":["15550002",1]})",
                            // Found by fuzz_plugin_message: a float ts converted with undefined behaviour.
                            std::string(R"({"entry":{"id":"x","kind":"msg","from":"15550001","ts":1.7e24},"to":["15550002"]})")}) {
        INFO(bad);
        CHECK(w.broker->on_message(w.key(0), "b/fanout", bad, {}).verdict == Verdict::deny);
    }
    for (auto bad : {"{}", R"({"user":"15550002","device":"../x","entries":[]})",
                     R"({"user":"15550002","device":"d1","entries":[1]})"}) {
        INFO(bad);
        CHECK(w.broker->on_message(w.key(0), "b/replay", bad, {}).verdict == Verdict::deny);
    }
    // The refused batch that named 15550002 before its bad member handed out no seq.
    auto ok = w.broker->on_message(w.key(0), "b/fanout", "{" + std::string(entry) + R"(,"to":["15550002"]})", {});
    REQUIRE_FALSE(ok.extra.empty());
    CHECK(nlohmann::json::parse(ok.extra[0].message.payload)["seq"] == 1);
}

TEST_CASE("the broker's metrics count connects, refusals by reason and connected devices") {
    World w([](Config& c) { c.publish_limit = {0.001, 1}; });
    REQUIRE(w.login(0, "15550001/d1"));
    REQUIRE(w.login(1, "15550002/d1"));
    CHECK_FALSE(w.auth(w.key(2), "15550003/d1", "15550003", "wrong"));
    CHECK(w.broker->on_message(w.key(0), "m/15550002", "first", {}).verdict != MessageResult::Verdict::deny);
    auto refused = w.broker->on_message(w.key(0), "m/15550002", "over the budget", {});
    CHECK(refused.verdict == MessageResult::Verdict::deny);
    CHECK(refused.refusal == Refusal::rate_limit);
    CHECK_FALSE(w.broker->acl(w.key(1), Access::write, "m/15550001", 101));  // over max_payload
    CHECK_FALSE(w.broker->acl(w.key(1), Access::subscribe, "$SYS/#", 0));
    w.broker->on_disconnect(w.key(1));
    auto text = w.broker->metrics().render();
    CHECK_THAT(text, Catch::Contains("chat_broker_connected_devices 1\n"));
    CHECK_THAT(text, Catch::Contains("chat_broker_connects_total{result=\"accepted\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("chat_broker_auth_failures_total{reason=\"wrong_token\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("chat_broker_publishes_total{kind=\"direct\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("chat_broker_refusals_total{reason=\"rate_limit\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("chat_broker_refusals_total{reason=\"payload_size\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("chat_broker_refusals_total{reason=\"acl\"} 1\n"));
    CHECK_FALSE(w.broker->health());
}
