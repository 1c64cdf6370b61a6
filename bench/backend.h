// The database a bench runs its broker on: `--backend sqlite|postgres` among a bench's arguments.
#pragma once

#include <string>
#include <vector>

namespace chat::bench {

// Reads `--backend sqlite|postgres` (default sqlite) and sets CHAT_TEST_DB for the test fixtures
// the bench starts (postgres: a throwaway cluster of this process, initdb'd at first use); throws
// on another value. Returns the backend's name for the report. Call before starting any fixture.
std::string select_backend(const std::vector<std::string>& args);

}  // namespace chat::bench
