// Unit tests for plugin option parsing.
#include "broker-plugin/config.h"

#include <catch2/catch.hpp>

using chat::broker::parse_config;

TEST_CASE("plugin options are parsed and validated") {
    auto c = parse_config({{"db_path", "/tmp/x.db"}, {"max_payload", "1024"}, {"bridge_user", "b"},
                           {"bridge_password", "p"}});
    CHECK(c.db_path == "/tmp/x.db");
    CHECK(c.max_payload == 1024);
    CHECK(c.bridge_user == "b");
    CHECK(parse_config({}).max_payload == 65536);
    CHECK_THROWS_WITH(parse_config({{"max_payload", "12x"}}), Catch::Contains("max_payload"));
    CHECK_THROWS_WITH(parse_config({{"max_payload", "0"}}), Catch::Contains("max_payload"));
    CHECK_THROWS_WITH(parse_config({{"colour", "red"}}), Catch::Contains("unknown option plugin_opt_colour"));
    CHECK_THROWS_WITH(parse_config({{"bridge_user", "b"}}), Catch::Contains("go together"));
}
