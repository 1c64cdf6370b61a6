// --backend for the benches (see backend.h).
#include "backend.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace chat::bench {

std::string select_backend(const std::vector<std::string>& args) {
    auto flag = std::find(args.begin(), args.end(), "--backend");
    if (flag == args.end()) return "sqlite";
    if (flag + 1 == args.end() || (*(flag + 1) != "sqlite" && *(flag + 1) != "postgres")) {
        throw std::invalid_argument("--backend takes sqlite or postgres");
    }
    // The fixtures (tests/support/pg_cluster.h) read it: unset means SQLite.
    if (*(flag + 1) == "postgres") {
        setenv("CHAT_TEST_DB", "postgres", 1);
    } else {
        unsetenv("CHAT_TEST_DB");
    }
    return *(flag + 1);
}

}  // namespace chat::bench
