// Run last (a CTest fixture cleanup): no log kept by the suite's processes holds a token, a
// secret or a message body that a test made (tests/support/kept_logs.h).
#include "support/kept_logs.h"
#include "support/process.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>

using namespace chat::testing;

TEST_CASE("no kept log holds a token, a secret or a test message body") {
    std::set<std::string> secrets;
    std::ifstream list(kept_logs_dir() / "secrets.list");
    for (std::string line; std::getline(list, line);) secrets.insert(line);
    int logs = 0;
    std::error_code ec;
    for (const auto& item : std::filesystem::directory_iterator(kept_logs_dir(), ec)) {
        if (item.path().extension() != ".log") continue;
        ++logs;
        std::string text = read_file(item.path());
        for (const auto& secret : secrets) {
            INFO(item.path().string() + " holds a secret of the suite");
            CHECK(text.find(secret) == std::string::npos);
        }
    }
    INFO("logs checked: " << logs << ", secrets listed: " << secrets.size());
    SUCCEED();
}
