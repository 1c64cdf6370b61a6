// Unit tests for the inbox journal, the importer and InboxLog: seqs, rollback, lookups of
// entries still in flight, and recovery of what a killed process left in the journal.
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/inbox.h"
#include "storage/inbox_log.h"
#include "storage/journal.h"
#include "support/pg_cluster.h"
#include "support/process.h"
#include "support/text_entry.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <filesystem>
#include <fstream>

using namespace chat::storage;

namespace {

struct Db {
    chat::testing::TempDir dir;
    chat::testing::TestDatabase store{dir.path() / "t.db"};
    std::string path = store.location();
    Database db{path};
    Db() {
        Accounts a(db);
        a.create_user("1", 1);
        a.create_user("2", 1);
    }
    std::filesystem::path journal() const { return dir.path() / "t.db.journal"; }
};

}  // namespace

TEST_CASE("journal records round-trip every entry field, binary bodies included") {
    chat::testing::TempDir dir;
    chat::Entry e = chat::testing::text_entry("1", "2", std::string("\x00\xff\n", 3));
    e.seq = 7;
    e.gid = "g1";
    e.ref = "r";
    e.cid = "c";
    e.kind = "edit";
    e.expires_ms = 99;
    {
        JournalWriter w(dir.path(), 0);
        w.append({JournalRecord{JournalRecord::Op::inbox, "2", e}, JournalRecord{JournalRecord::Op::outbox, "", e}});
    }
    auto segments = journal_segments(dir.path());
    REQUIRE(segments.size() == 1);
    auto records = read_journal_segment(segments[0]);
    REQUIRE(records.size() == 2);
    const auto& back = records[0].record.entry;
    CHECK(records[0].record.owner == "2");
    CHECK(records[1].record.op == JournalRecord::Op::outbox);
    CHECK(records[1].end == std::filesystem::file_size(segments[0]));
    CHECK(back.body == e.body);
    CHECK(back.seq == 7);
    CHECK(back.gid == "g1");
    CHECK(back.ref == "r");
    CHECK(back.cid == "c");
    CHECK(back.kind == "edit");
    CHECK(back.expires_ms == 99);
}

TEST_CASE("presence changes are imported in order with the publishes around them, and lookups stay exact") {
    Db t;
    Accounts(t.db).add_device("1", "d1", "h", 1);
    InboxLog log(t.db, t.path, t.journal());
    // Many presence changes in a row share a queue slot; the entry after them must still be
    // waited for by a lookup (counted like every other journal write).
    for (int i = 0; i < 50; ++i) {
        log.device_online("1", "d1");
        log.device_offline("1", "d1", 1000 + i);
    }
    log.device_online("1", "d1");
    auto e = chat::testing::text_entry("2", "1", "after");
    {
        InboxLog::Batch b(log);
        REQUIRE(b.add("1", e));
        b.commit();
    }
    CHECK(log.find_by_id("1", e.id));  // waits for the import of everything before it
    log.wait_imported();
    Accounts accounts(t.db);
    CHECK(accounts.find_device("1", "d1")->online);  // the last change wins
    CHECK(accounts.list_users().at(0).last_seen_ms == 1049);
}

TEST_CASE("journal pages given back to the kernel keep what was written, and appending goes on") {
    chat::testing::TempDir dir;
    JournalWriter w(dir.path(), 0, 64 * 1024);  // alive, as a kill -9 leaves it
    auto record = JournalRecord{JournalRecord::Op::inbox, "1", chat::testing::text_entry("2", "1", std::string(500, 'x'))};
    JournalRecord offline{JournalRecord::Op::offline, "1", {}, "d1"};
    offline.entry.ts = 77;
    for (int i = 0; i < 20; ++i) w.append({record});  // several pages
    w.release_written_pages();
    w.append({offline});  // on the page that stayed mapped
    w.release_written_pages();
    for (int i = 0; i < 20; ++i) w.append({record});
    auto back = read_journal_segment(journal_segment_path(dir.path(), 0));
    REQUIRE(back.size() == 41);
    CHECK(back[5].record.entry.body == std::string(500, 'x'));
    CHECK(back[20].record.op == JournalRecord::Op::offline);
    CHECK(back[20].record.device == "d1");
    CHECK(back[20].record.entry.ts == 77);
    CHECK(back[40].record.entry.body == std::string(500, 'x'));
}

TEST_CASE("a torn or corrupt journal tail is ignored; the records before it are kept") {
    chat::testing::TempDir dir;
    JournalWriter w(dir.path(), 3);  // alive, as a kill -9 leaves it: the segment keeps its zeros
    auto record = JournalRecord{JournalRecord::Op::inbox, "1", chat::testing::text_entry("2", "1", "m")};
    JournalPosition second;
    for (int i = 0; i < 3; ++i) {
        auto end = w.append({record});
        if (i == 1) second = end;
    }
    auto segment = journal_segment_path(dir.path(), 3);
    auto flip = [&](uint64_t offset) {
        std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(offset));
        f.put('\x7f');
    };
    flip(second.offset + 20);  // the last copy cut short
    CHECK(read_journal_segment(segment).size() == 2);
    flip(20);  // a flipped byte inside the first batch: nothing after it is trusted either
    CHECK(read_journal_segment(segment).empty());
}

TEST_CASE("the records of one publish are read back all together or not at all") {
    chat::testing::TempDir dir;
    JournalWriter w(dir.path(), 0);
    auto entry = chat::testing::text_entry("2", "1", "m");
    auto end = w.append({JournalRecord{JournalRecord::Op::inbox, "1", entry},
                         JournalRecord{JournalRecord::Op::inbox, "2", entry}});
    auto segment = journal_segment_path(dir.path(), 0);
    auto records = read_journal_segment(segment);
    REQUIRE(records.size() == 2);
    CHECK(records[0].end == end.offset);  // both end where their batch ends
    std::filesystem::resize_file(segment, end.offset - 3);  // the second record cut short
    CHECK(read_journal_segment(segment).empty());
}

TEST_CASE("a journal left by the previous version (MessagePack records) is still read") {
    chat::testing::TempDir dir;
    auto e = chat::testing::text_entry("2", "1", "from before the upgrade");
    e.seq = 5;
    auto body = nlohmann::json::to_msgpack(nlohmann::json::array(
        {1, "1", e.id, e.seq, e.kind, e.from, e.to, e.gid, e.ts,
         nlohmann::json::binary(std::vector<uint8_t>(e.body.begin(), e.body.end())), e.ref, e.cid, e.expires_ms, ""}));
    std::string frame(12, '\0');
    for (int i = 0; i < 4; ++i) frame[static_cast<size_t>(i)] = static_cast<char>(body.size() >> (8 * i));
    const unsigned char key[crypto_shorthash_KEYBYTES] = {};
    crypto_shorthash(reinterpret_cast<unsigned char*>(frame.data() + 4), body.data(), body.size(), key);
    frame.append(body.begin(), body.end());
    std::ofstream(journal_segment_path(dir.path(), 0), std::ios::binary) << frame;
    auto records = read_journal_segment(journal_segment_path(dir.path(), 0));
    REQUIRE(records.size() == 1);
    CHECK(records[0].record.owner == "1");
    CHECK(records[0].record.entry.seq == 5);
    CHECK(records[0].record.entry.body == e.body);
}

TEST_CASE("an intact batch this version cannot read stops the start instead of being dropped") {
    chat::testing::TempDir dir;
    std::string body = "\x09unknown";  // op 9: from a newer version
    std::string frame(12, '\0');
    frame[0] = static_cast<char>(body.size());
    const unsigned char key[crypto_shorthash_KEYBYTES] = {};
    crypto_shorthash(reinterpret_cast<unsigned char*>(frame.data() + 4),
                     reinterpret_cast<const unsigned char*>(body.data()), body.size(), key);
    std::ofstream(journal_segment_path(dir.path(), 0), std::ios::binary) << frame + body;
    CHECK_THROWS_AS(read_journal_segment(journal_segment_path(dir.path(), 0)), Error);
}

TEST_CASE("a previous-version record with a float or an unknown op is refused, not misread") {
    // Found with fuzz_journal: a float converted to the op or a number with undefined behaviour.
    chat::testing::TempDir dir;
    auto legacy = [](nlohmann::json op, nlohmann::json seq) {
        return nlohmann::json::to_msgpack(
            nlohmann::json::array({op, "1", "id", seq, "msg", "2", "1", "", 1, "", "", "", 0, ""}));
    };
    int segment = 0;
    for (const auto& body : {legacy(1e300, 5), legacy(1, -1e300), legacy(1.0, 5), legacy(9, 5)}) {
        std::string frame(12, '\0');
        frame[0] = static_cast<char>(body.size());
        const unsigned char key[crypto_shorthash_KEYBYTES] = {};
        crypto_shorthash(reinterpret_cast<unsigned char*>(frame.data() + 4), body.data(), body.size(), key);
        frame.append(body.begin(), body.end());
        auto path = journal_segment_path(dir.path(), static_cast<uint64_t>(segment++));
        std::ofstream(path, std::ios::binary) << frame;
        CHECK_THROWS_AS(read_journal_segment(path), Error);
    }
}

TEST_CASE("a segment is allocated up front: reading stops at its unwritten zeros, a large batch gets its own") {
    chat::testing::TempDir dir;
    JournalWriter w(dir.path(), 0, 4096);
    auto small = JournalRecord{JournalRecord::Op::inbox, "1", chat::testing::text_entry("2", "1", "m")};
    auto first = w.append({small});
    auto second = w.append({small});
    auto segment = journal_segment_path(dir.path(), 0);
    CHECK(std::filesystem::file_size(segment) == 4096);  // as a kill -9 leaves it
    auto records = read_journal_segment(segment);
    REQUIRE(records.size() == 2);
    CHECK(records[1].end == second.offset);
    CHECK(second.segment == first.segment);
    auto large_entry = chat::testing::text_entry("2", "1", std::string(10000, 'x'));
    auto large = JournalRecord{JournalRecord::Op::inbox, "1", large_entry};
    auto third = w.append({large});
    CHECK(third.segment == 1);
    CHECK(third.offset > 10000);
    CHECK(read_journal_segment(journal_segment_path(dir.path(), 1)).size() == 1);
}

TEST_CASE("InboxLog hands out gap-free seqs, refuses unknown users and undoes uncommitted batches") {
    Db t;
    {
        InboxLog log(t.db, t.path, t.journal());
        auto a = chat::testing::text_entry("2", "1", "a");
        {
            InboxLog::Batch b(log);
            REQUIRE(b.add("1", a));
            b.commit();
        }
        CHECK(a.seq == 1);
        {
            InboxLog::Batch b(log);
            auto lost = chat::testing::text_entry("2", "1", "lost");
            REQUIRE(b.add("1", lost));
            CHECK(lost.seq == 2);
            auto nobody = chat::testing::text_entry("2", "9", "x");
            CHECK_FALSE(b.add("9", nobody));
        }  // not committed: seq 2 is handed out again
        auto c = chat::testing::text_entry("2", "1", "c");
        {
            InboxLog::Batch b(log);
            REQUIRE(b.add("1", c));
            b.commit();
        }
        CHECK(c.seq == 2);
        CHECK(log.last_seq("1") == 2);
        CHECK(log.last_seq("9") == 0);
        log.wait_imported();
    }
    Inbox inbox(t.db);
    auto stored = inbox.entries_after("1", 0, 10);
    REQUIRE(stored.size() == 2);
    CHECK(stored[1].body == "c");
    CHECK(inbox.last_seq("1") == 2);
    CHECK(journal_segments(t.journal()).empty());  // a clean stop leaves no journal behind
}

TEST_CASE("acks move a device cursor forward only, capped at the last seq, and reach SQLite") {
    Db t;
    Accounts(t.db).add_device("1", "d1", "h", 1);
    {
        InboxLog log(t.db, t.path, t.journal());
        for (int i = 0; i < 3; ++i) {
            auto e = chat::testing::text_entry("2", "1", "m");
            InboxLog::Batch b(log);
            REQUIRE(b.add("1", e));
            b.commit();
        }
        auto r = log.ack("1", "d1", 2);
        CHECK(r.previous_delivered == 0);
        CHECK(r.delivered == 2);
        CHECK(log.ack("1", "d1", 1).delivered == 2);
        r = log.ack("1", "d1", 99);
        CHECK(r.previous_delivered == 2);
        CHECK(r.delivered == 3);
        CHECK(log.delivered_seq("1") == 3);
        CHECK(log.ack("9", "d1", 1).delivered == 0);  // no such user
        log.wait_imported();
    }
    CHECK(Accounts(t.db).find_device("1", "d1")->cursor == 3);
    CHECK(Inbox(t.db).delivered_seq("1") == 3);
}

TEST_CASE("entries still on their way to SQLite are found by id and cid") {
    Db t;
    InboxLog log(t.db, t.path, t.journal());
    auto sent = chat::testing::text_entry("1", "2", "x");
    sent.kind = "sent";
    sent.cid = "c-1";
    auto group = chat::testing::text_entry("1", "", "g");
    group.gid = "g1";
    InboxLog::Batch b(log);
    REQUIRE(b.add("1", sent));
    b.add_outbox(group);
    b.commit();
    // Whether or not the importer got to them yet, the lookups answer the same.
    CHECK(log.has_entry("1", sent.id));
    CHECK_FALSE(log.has_entry("2", sent.id));
    REQUIRE(log.find_by_cid("1", "c-1", "2"));
    CHECK(log.find_by_cid("1", "c-1", "2")->id == sent.id);
    CHECK(log.find_by_id("1", sent.id)->cid == "c-1");
    CHECK(log.find_outbox(group.id)->body == "g");
    log.wait_imported();
    CHECK(log.find_by_cid("1", "c-1", "2")->id == sent.id);
    CHECK(Inbox(t.db).has_entry("1", sent.id));
}

TEST_CASE("recovery skips what was imported before the kill, so swept entries stay swept") {
    Db t;
    chat::testing::TempDir saved;
    std::string swept_id;
    {
        InboxLog log(t.db, t.path, t.journal());
        auto e = chat::testing::text_entry("2", "1", "old");
        InboxLog::Batch b(log);
        REQUIRE(b.add("1", e));
        b.commit();
        swept_id = e.id;
        log.wait_imported();
        // What a kill -9 would leave behind: the imported segment still on disk.
        for (const auto& s : journal_segments(t.journal())) std::filesystem::copy(s, saved.path() / s.filename());
    }
    for (const auto& s : journal_segments(saved.path())) std::filesystem::copy(s, t.journal() / s.filename());
    Statement(t.db, "DELETE FROM inbox").run();  // the retention sweep got to it
    InboxLog again(t.db, t.path, t.journal());
    CHECK_FALSE(Inbox(t.db).has_entry("1", swept_id));
    auto next = chat::testing::text_entry("2", "1", "next");
    InboxLog::Batch b(again);
    REQUIRE(b.add("1", next));
    CHECK(next.seq == 2);  // seqs still continue after the swept one
}

TEST_CASE("a journal left by a killed process is imported at the next start, once") {
    Db t;
    auto left = chat::testing::text_entry("2", "1", "left behind");
    left.seq = 1;
    auto redacted = chat::testing::text_entry("2", "1", "secret");
    redacted.seq = 2;
    // What a kill -9 leaves: records in the journal (its segment never cut down to size),
    // nothing in SQLite. The writer stays alive so nothing tidies the segment up.
    JournalWriter w(t.journal(), 0);
    {
        w.append({JournalRecord{JournalRecord::Op::inbox, "1", left}});
        w.append({JournalRecord{JournalRecord::Op::inbox, "1", redacted}});
        JournalRecord redact{JournalRecord::Op::redact, "1", {}};
        redact.entry.ref = redacted.id;
        redact.entry.from = "2";
        w.append({redact});
    }
    {
        Inbox inbox(t.db);
        inbox.insert_imported("1", left, "");  // the importer got this one before the kill
        inbox.raise_last_seq("1", left.seq);
    }
    InboxLog log(t.db, t.path, t.journal());
    CHECK_FALSE(std::filesystem::exists(journal_segment_path(t.journal(), 0)));
    auto stored = Inbox(t.db).entries_after("1", 0, 10);
    REQUIRE(stored.size() == 2);
    CHECK(stored[0].body == "left behind");
    CHECK(stored[1].body.empty());  // the delete was replayed after its target
    auto next = chat::testing::text_entry("2", "1", "next");
    InboxLog::Batch b(log);
    REQUIRE(b.add("1", next));
    CHECK(next.seq == 3);
}

TEST_CASE("the same entry added twice for one user in a batch is stored once, with no seq gap") {
    Db t;
    {
        InboxLog log(t.db, t.path, t.journal());
        auto e = chat::testing::text_entry("2", "", "to the group");
        auto again = e;  // the same member listed twice in a b/fanout
        InboxLog::Batch b(log);
        REQUIRE(b.add("1", e));
        REQUIRE(b.add("1", again));
        CHECK(again.seq == e.seq);
        auto other = chat::testing::text_entry("2", "1", "next");
        REQUIRE(b.add("1", other));
        CHECK(other.seq == e.seq + 1);
        b.commit();
        CHECK(log.last_seq("1") == 2);
        log.wait_imported();
    }
    auto stored = Inbox(t.db).entries_after("1", 0, 10);
    REQUIRE(stored.size() == 2);
    CHECK(stored[0].seq == 1);
    CHECK(stored[1].seq == 2);
    CHECK(Inbox(t.db).last_seq("1") == 2);
}

TEST_CASE("an import that meets another entry at the same seq logs and counts it instead of dropping it quietly") {
    Db t;
    auto first = chat::testing::text_entry("2", "1", "first");
    first.seq = 1;
    auto clash = chat::testing::text_entry("2", "1", "clash");  // another id at the same seq
    clash.seq = 1;
    auto replay = first;  // the same entry again (a replay after a kill -9): expected, quiet
    auto next = chat::testing::text_entry("2", "1", "next");
    next.seq = 2;
    std::filesystem::create_directories(t.journal());
    Importer importer(t.path, t.journal(), 0);
    for (const auto& e : {first, clash, replay, next}) {
        importer.push({JournalRecord{JournalRecord::Op::inbox, "1", e}}, JournalPosition{0, 0});
    }
    REQUIRE(importer.wait_all_imported());
    CHECK(importer.conflicts() == 1);
    auto stored = Inbox(t.db).entries_after("1", 0, 10);
    REQUIRE(stored.size() == 2);  // the import went on past the clash
    CHECK(stored[0].body == "first");
    CHECK(stored[1].body == "next");
}

TEST_CASE("the importer survives a database it cannot open, and imports once it can", "[sqlite]") {
    chat::testing::TempDir dir;
    auto folder = dir.path() / "not-yet";
    auto path = (folder / "t.db").string();
    auto journal = dir.path() / "journal";
    std::filesystem::create_directories(journal);
    auto e = chat::testing::text_entry("2", "1", "waited");
    e.seq = 1;
    // Before the fix the thread's Database constructor threw out of the thread: std::terminate.
    Importer importer(path, journal, 0);
    importer.push({JournalRecord{JournalRecord::Op::inbox, "1", e}}, JournalPosition{0, 0});
    CHECK_FALSE(importer.wait_all_imported(std::chrono::milliseconds(300)));
    std::filesystem::create_directories(folder);
    REQUIRE(importer.wait_all_imported());
    Database db(path);
    CHECK(Inbox(db).has_entry("1", e.id));
}

TEST_CASE("an ack is imported at once, with what was queued before it, without waiting out the import interval") {
    Db t;
    Accounts(t.db).add_device("1", "d1", "hash", 1);
    auto e = chat::testing::text_entry("2", "1", "hello");
    e.seq = 1;
    std::filesystem::create_directories(t.journal());
    // An interval no test waits out: only the ack can start this import. The bridge waits for
    // the ack in SQLite before it makes the sender's delivered receipt.
    Importer importer(t.path, t.journal(), 0, {}, std::chrono::hours(1));
    importer.push({JournalRecord{JournalRecord::Op::inbox, "1", e}}, JournalPosition{0, 0});
    JournalRecord ack{JournalRecord::Op::cursor, "1", chat::Entry{}, "d1"};
    ack.entry.seq = 1;
    importer.push({ack}, JournalPosition{0, 0});
    REQUIRE(chat::testing::eventually([&] { return importer.imported() == 2; }));
    CHECK(Inbox(t.db).delivered_seq("1") == 1);
    CHECK(Inbox(t.db).has_entry("1", e.id));
}
