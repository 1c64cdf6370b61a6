// Unit tests for plugin option parsing, and the bridge secret's file.
#include "broker-plugin/config.h"
#include "common/secret_file.h"
#include "support/process.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using chat::broker::parse_config;
namespace fs = std::filesystem;

namespace {

std::string write_secret(const chat::testing::TempDir& dir, const std::string& value, fs::perms perms) {
    auto path = dir.path() / "bridge.secret";
    std::ofstream(path) << value << "\n";
    fs::permissions(path, perms);
    return path.string();
}

constexpr auto owner_only = fs::perms::owner_read | fs::perms::owner_write;

}  // namespace

TEST_CASE("plugin options are parsed and validated") {
    chat::testing::TempDir dir;
    std::map<std::string, std::string> bridge = {{"bridge_user", "b"},
                                                 {"bridge_password_file", write_secret(dir, "0123456789abcdef-x", owner_only)},
                                                 {"bridge_clients", "chat-bridge-1,chat-bridge-2"}};
    auto with = [&](std::map<std::string, std::string> more) {
        more.insert(bridge.begin(), bridge.end());
        return more;
    };
    auto c = parse_config(with({{"db_path", "/tmp/x.db"}, {"max_payload", "1024"}, {"publish_rate", "2.5/50"}}));
    CHECK(c.db_path == "/tmp/x.db");
    CHECK(c.max_payload == 1024);
    CHECK(c.bridge_user == "b");
    CHECK(c.bridge_password == "0123456789abcdef-x");
    CHECK(c.bridge_clients == std::vector<std::string>{"chat-bridge-1", "chat-bridge-2"});
    CHECK(c.publish_limit.per_second == 2.5);
    CHECK(c.publish_limit.burst == 50);
    auto defaults = parse_config(bridge);
    CHECK(defaults.max_payload == 65536);
    CHECK(defaults.max_pending == 10000);  // on unless set otherwise
    CHECK_THROWS_WITH(parse_config(with({{"max_payload", "12x"}})), Catch::Contains("max_payload"));
    CHECK_THROWS_WITH(parse_config(with({{"max_payload", "0"}})), Catch::Contains("max_payload"));
    CHECK_THROWS_WITH(parse_config(with({{"publish_rate", "20"}})), Catch::Contains("RATE/BURST"));
    CHECK_THROWS_WITH(parse_config(with({{"publish_rate", "0/5"}})), Catch::Contains("RATE/BURST"));
    CHECK_THROWS_WITH(parse_config(with({{"colour", "red"}})), Catch::Contains("unknown option plugin_opt_colour"));
}

TEST_CASE("the broker refuses to start without a bridge secret of its own") {
    chat::testing::TempDir dir;
    CHECK_THROWS_WITH(parse_config({{"bridge_user", "b"}, {"bridge_clients", "x"}}), Catch::Contains("required"));
    CHECK_THROWS_WITH(parse_config({{"bridge_user", "b"}, {"bridge_password", "whatever-long-enough"}}),
                      Catch::Contains("bridge_password_file"));
    auto good = write_secret(dir, "0123456789abcdef-x", owner_only);
    CHECK_THROWS_WITH(parse_config({{"bridge_user", "b"}, {"bridge_password_file", good}}),
                      Catch::Contains("bridge_clients"));
    CHECK_THROWS_WITH(chat::read_secret_file((dir.path() / "missing").string()), Catch::Contains("does not exist"));
    CHECK_THROWS_WITH(chat::read_secret_file(write_secret(dir, "dev-bridge-secret-change-me", owner_only)),
                      Catch::Contains("sample"));
    CHECK_THROWS_WITH(chat::read_secret_file(write_secret(dir, "short", owner_only)), Catch::Contains("shorter"));
    CHECK_THROWS_WITH(chat::read_secret_file(write_secret(dir, "0123456789abcdef-x", owner_only | fs::perms::others_read)),
                      Catch::Contains("chmod 600"));
    CHECK(chat::read_secret_file(write_secret(dir, "0123456789abcdef-x", owner_only)) == "0123456789abcdef-x");
}
