// Structured log lines: key=value fields on one line, levels, and secret fields never printed.
#include "common/log.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace chat::log;

TEST_CASE("a secret field's value never reaches the line") {
    std::string token = "tok_9f8e7d6c5b4a39281706";
    auto line = format("device_added", {{"user", "15550001"}, secret("token", token), secret("body", "hello Bob")});
    CHECK(line == "event=device_added user=15550001 token=<redacted> body=<redacted>");
    CHECK(line.find(token) == std::string::npos);
    CHECK(line.find("hello") == std::string::npos);
}

TEST_CASE("values are quoted and escaped so one event stays one line") {
    CHECK(format("e", {{"a", "plain"}, {"n", 42}, {"empty", ""}}) == R"(event=e a=plain n=42 empty="")");
    CHECK(format("e", {{"error", "two\nlines \"quoted\" a=b"}}) == R"(event=e error="two\nlines \"quoted\" a=b")");
}

TEST_CASE("lines below the configured level are not written; the sink gets the rest") {
    std::vector<std::pair<Level, std::string>> got;
    configure(Level::warning, [&](Level l, const std::string& line) { got.emplace_back(l, line); });
    log(Level::info, "quiet");
    log(Level::error, "loud", {{"k", "v"}, secret("code", "123456")});
    configure(Level::info, stderr_sink());  // back to the default for other tests
    REQUIRE(got.size() == 1);
    CHECK(got[0].first == Level::error);
    CHECK(got[0].second == "event=loud k=v code=<redacted>");
    CHECK(parse_level("notice") == Level::notice);
    CHECK_FALSE(parse_level("verbose"));
}
