// The lean encoding: sizes the issue asks for, and every kind of entry decoding back to itself.
#include "common/identity.h"
#include "common/lean.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using chat::Entry;

namespace {

const std::string owner = "15550002";

Entry text(std::string body) {
    Entry e;
    e.ts = 1732300000123;
    e.id = chat::format_message_id(e.ts, 0xdeadbeef);
    e.seq = 42;
    e.from = "15550001";
    e.to = owner;
    e.body = std::move(body);
    return e;
}

void check_same(const Entry& a, const Entry& b) {
    CHECK(a.id == b.id);
    CHECK(a.seq == b.seq);
    CHECK(a.kind == b.kind);
    CHECK(a.from == b.from);
    CHECK(a.to == b.to);
    CHECK(a.gid == b.gid);
    CHECK(a.ts == b.ts);
    CHECK(a.body == b.body);
    CHECK(a.ref == b.ref);
    CHECK(a.cid == b.cid);
    CHECK(a.expires_ms == b.expires_ms);
}

}  // namespace

TEST_CASE("a lean 20-byte text is [seq, id, from, body]: 53 bytes, the envelope the receiver cannot derive") {
    Entry e = text("twenty bytes of text");
    auto bytes = chat::lean::entry(e, owner);
    CHECK(bytes.size() == 53);
    auto j = nlohmann::json::from_msgpack(bytes);
    REQUIRE(j.size() == 4);
    CHECK(j[0] == 42);
    CHECK(j[1] == e.id);
    CHECK(j[2] == "15550001");
    CHECK(j[3].is_binary());
    check_same(chat::lean::decode_entry(bytes, owner), e);
}

TEST_CASE("every kind of entry decodes back to the stored entry") {
    Entry edit = text("fixed");
    edit.kind = "edit";
    edit.ref = "0192abc";
    Entry group = text("hi all");
    group.to.clear();
    group.gid = "g7k2p";
    group.expires_ms = group.ts + 5000;
    Entry sent = text(std::string("\x00\xff", 2));
    sent.kind = "sent";
    sent.from = owner;
    sent.to = "15550001";
    sent.cid = "c1";
    Entry delivered = text(R"({"delivered":["a","b"]})");
    delivered.kind = "receipt";
    Entry odd_receipt = text(R"({"delivered":["b"],"read":["a"]})");
    odd_receipt.kind = "receipt";
    Entry notice = text(R"({"added":["15550003"],"group":"g7k2p","removed":[]})");
    notice.kind = "notice";
    notice.from = "g7k2p";
    notice.to.clear();
    notice.gid = "g7k2p";
    Entry late = text("ts is not the id's time");
    late.ts += 7;
    for (const Entry* e : {&edit, &group, &sent, &delivered, &odd_receipt, &notice, &late}) {
        INFO(e->kind << " " << e->body);
        check_same(chat::lean::decode_entry(chat::lean::entry(*e, owner), owner), *e);
    }
}

TEST_CASE("a delivered receipt names its ids under one letter, with no kind") {
    Entry r = text(R"({"delivered":["0192a"]})");
    r.kind = "receipt";
    auto j = nlohmann::json::from_msgpack(chat::lean::entry(r, owner));
    REQUIRE(j.size() == 4);
    CHECK(j[3] == nlohmann::json({{"d", {"0192a"}}}));
}

TEST_CASE("a confirmation is [seq, id] or [seq, id, cid]") {
    Entry sent = text("x");
    sent.kind = "sent";
    CHECK(chat::lean::confirmation(sent).size() == 22);
    auto plain = chat::lean::decode_confirmation(chat::lean::confirmation(sent));
    CHECK(plain.seq == 42);
    CHECK(plain.id == sent.id);
    CHECK(plain.cid.empty());
    sent.cid = "m-17";
    CHECK(chat::lean::decode_confirmation(chat::lean::confirmation(sent)).cid == "m-17");
}

TEST_CASE("a page holds entries and confirmations in order, each told apart by its length") {
    chat::lean::PageWriter page(owner);
    CHECK(page.empty());
    Entry first = text("one");
    Entry mine = text("two");
    mine.kind = "sent";
    mine.seq = 43;
    page.add_entry(first);
    page.add_confirmation(mine);
    auto elements = chat::lean::decode_page(page.finish(), owner);
    REQUIRE(elements.size() == 2);
    CHECK_FALSE(elements[0].confirmation);
    check_same(elements[0].entry, first);
    CHECK(elements[1].confirmation);
    CHECK(elements[1].confirmed.seq == 43);
}

TEST_CASE("malformed lean input is refused") {
    CHECK_THROWS(chat::lean::decode_entry(std::string("\x92\x01\x02", 3), owner));
    CHECK_THROWS(chat::lean::decode_confirmation(std::string("\x91\x01", 2)));
    CHECK(chat::lean::id_time("zz") == -1);
}
