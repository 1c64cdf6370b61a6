// Unit tests for inbox entry encoding (JSON and MessagePack).
#include "common/base64.h"
#include "common/entry.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using chat::Entry;

TEST_CASE("a UTF-8 body is carried as a string with every header field") {
    Entry e{"id1", 42, "msg", "15550001", "15550002", "", 1732300000123, "hello", "", "", 0, ""};
    auto j = nlohmann::json::parse(chat::to_json(e));
    CHECK(j["id"] == "id1");
    CHECK(j["seq"] == 42);
    CHECK(j["kind"] == "msg");
    CHECK(j["from"] == "15550001");
    CHECK(j["to"] == "15550002");
    CHECK(j["ts"] == 1732300000123);
    CHECK(j["body"] == "hello");
    CHECK_FALSE(j.contains("gid"));
    CHECK_FALSE(j.contains("body64"));
}

TEST_CASE("a binary body is carried as body64 and round-trips") {
    Entry e;
    e.id = "x";
    e.seq = 1;
    e.body = std::string("\xff\x00\xfe", 3);
    std::string text = chat::to_json(e);
    auto j = nlohmann::json::parse(text);
    CHECK_FALSE(j.contains("body"));
    CHECK(j["body64"] == "/wD+");
    CHECK(chat::entry_from_json(text).body == e.body);
}

TEST_CASE("receipt entries carry their fields inline") {
    Entry e;
    e.id = "r1";
    e.kind = "receipt";
    e.body = R"({"read":["a","b"]})";
    auto j = nlohmann::json::parse(chat::to_json(e));
    CHECK(j["read"] == nlohmann::json::array({"a", "b"}));
    CHECK_FALSE(j.contains("body"));
}

TEST_CASE("the compact encoding is MessagePack with a binary body and fewer bytes") {
    Entry e{"1a2b3c4d5e6f7a8b9c0", 42, "msg", "15550001", "15550002", "", 1732300000123, "hello there", "", "", 0, ""};
    auto packed = chat::to_msgpack(e);
    auto j = nlohmann::json::from_msgpack(packed);
    CHECK(j["seq"] == 42);
    REQUIRE(j["body"].is_binary());
    CHECK(std::string(j["body"].get_binary().begin(), j["body"].get_binary().end()) == "hello there");
    CHECK(packed.size() < chat::to_json(e).size());
}

TEST_CASE("UTF-8 validity") {
    CHECK(chat::is_valid_utf8("héllo"));
    CHECK(chat::is_valid_utf8("\xf0\x9f\x98\x80"));       // U+1F600
    CHECK_FALSE(chat::is_valid_utf8("\xc3\x28"));
    CHECK_FALSE(chat::is_valid_utf8("\xe0\x80\xaf"));      // overlong '/'
    CHECK_FALSE(chat::is_valid_utf8("\xed\xa0\x80"));      // surrogate
    CHECK_FALSE(chat::is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(chat::is_valid_utf8("ab\xe2\x82"));         // cut short
}

// The check decides body or body64, and dump() must then never throw: both agree on every
// string of one and two bytes and on every lead byte with every second byte after it.
TEST_CASE("UTF-8 validity agrees with what nlohmann's dump accepts") {
    auto dump_accepts = [](const std::string& s) {
        try {
            (void)nlohmann::json(s).dump();
            return true;
        } catch (const nlohmann::json::type_error&) {
            return false;
        }
    };
    int disagreements = 0;
    auto compare = [&](const std::string& s) {
        if (chat::is_valid_utf8(s) != dump_accepts(s)) ++disagreements;
    };
    for (int a = 0; a < 256; ++a) {
        compare(std::string(1, static_cast<char>(a)));
        for (int b = 0; b < 256; ++b) {
            std::string two{static_cast<char>(a), static_cast<char>(b)};
            compare(two);
            compare(two + "\x80");
            compare(two + "\x80\x80");
            compare(two + "\xbf\xbf");
        }
    }
    CHECK(disagreements == 0);
}

TEST_CASE("a reused EntryJsonWriter writes each entry as to_json does, with nothing left from the one before") {
    Entry full{"id1", 7, "edit", "15550001", "15550002", "g1", 1732300000123, std::string("\xff", 1), "ref1", "cid1",
               1732300999000, ""};
    Entry plain{"id2", 8, "msg", "15550001", "15550002", "", 1732300000124, "hi", "", "", 0, ""};
    Entry receipt{"id3", 9, "receipt", "15550002", "15550001", "", 1732300000125, R"({"read":["id2"]})", "", "", 0, ""};
    chat::EntryJsonWriter writer;
    for (const Entry* e : {&full, &plain, &receipt, &full, &plain}) CHECK(writer.write(*e) == chat::to_json(*e));
    auto j = nlohmann::json::parse(writer.write(plain));
    for (const char* stale : {"gid", "ref", "cid", "exp", "body64"}) CHECK_FALSE(j.contains(stale));
    CHECK(j["body"] == "hi");
}

TEST_CASE("base64 decodes only the alphabet, padded") {
    CHECK(chat::from_base64("aGk=") == std::optional<std::string>("hi"));
    CHECK_FALSE(chat::from_base64("aGk"));
    CHECK_FALSE(chat::from_base64("a Gk="));
    // Found by fuzz_entry: libsodium 1.0.18 took these bytes >= 0x80 for base64 digits.
    CHECK_FALSE(chat::from_base64("\xb7\xb6hd"));
}

TEST_CASE("entry numbers must be integers") {
    CHECK(chat::entry_from_json(R"({"id":"a","seq":3,"ts":5})").ts == 5);
    // Found by fuzz_plugin_message: a float out of int64's range converted with undefined behaviour.
    for (auto bad : {R"({"id":"a","ts":1.7e24})", R"({"id":"a","seq":1.5})", R"({"id":"a","exp":"soon"})"}) {
        INFO(bad);
        CHECK_THROWS(chat::entry_from_json(bad));
    }
}
