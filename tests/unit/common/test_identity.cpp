// Unit tests for id validation, tokens and message ids.
#include "common/identity.h"

#include <catch2/catch.hpp>

#include <set>

TEST_CASE("user, device and group ids") {
    CHECK(chat::is_user_id("15550001"));
    CHECK_FALSE(chat::is_user_id("+15550001"));
    CHECK_FALSE(chat::is_user_id("0123"));
    CHECK_FALSE(chat::is_user_id("1234567890123456"));
    CHECK_FALSE(chat::is_user_id(""));
    CHECK(chat::is_device_id("d1"));
    CHECK_FALSE(chat::is_device_id("D1"));
    CHECK_FALSE(chat::is_device_id("a/b"));
    CHECK_FALSE(chat::is_device_id("abcdefghijklmnopq"));
    CHECK(chat::is_group_id("g7k2p"));
    CHECK_FALSE(chat::is_group_id("g"));
    CHECK_FALSE(chat::is_group_id("x7k2p"));
}

TEST_CASE("tokens are random, hashed, and compared by hash") {
    auto a = chat::new_device_token();
    auto b = chat::new_device_token();
    CHECK(a != b);
    CHECK(a.size() == 43);
    auto h = chat::hash_token(a);
    CHECK(h.size() == 32);
    CHECK(h.find(a) == std::string::npos);
    CHECK(chat::token_matches(a, h));
    CHECK_FALSE(chat::token_matches(b, h));
    CHECK_FALSE(chat::token_matches(a, "short"));
}

TEST_CASE("message ids are unique and sort by time") {
    std::set<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.insert(chat::new_message_id(1000));
    CHECK(ids.size() == 1000);
    CHECK(chat::new_message_id(1000) < chat::new_message_id(2000));
    CHECK(chat::new_message_id(0xfff) < chat::new_message_id(0x1000));
}

TEST_CASE("derived message ids: one name, one id, in the shape of the others") {
    auto id = chat::derived_message_id(1000, "1002>1001:0-3");
    CHECK(id == chat::derived_message_id(1000, "1002>1001:0-3"));
    CHECK(id != chat::derived_message_id(1000, "1002>1001:3-5"));
    CHECK(id.size() == chat::new_message_id(1000).size());
    CHECK(id.substr(0, 11) == chat::new_message_id(1000).substr(0, 11));  // the time part
    CHECK(chat::format_message_id(0x1a, 0xbeef) == "0000000001a0000beef");
}
