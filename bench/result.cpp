// RESULT lines for scripts/bench.sh (see result.h).
#include "result.h"

#include <cstdio>
#include <stdexcept>

namespace chat::bench {
namespace {

// Names and units are single words: the script splits the line on blanks.
void check_word(const std::string& s) {
    if (s.empty() || s.find_first_of(" \t\n") != std::string::npos) {
        throw std::invalid_argument("a RESULT field must be one word: '" + s + "'");
    }
}

}  // namespace

void print_result(const std::string& name, double figure, const std::string& unit, const std::string& target) {
    check_word(name), check_word(unit), check_word(target);
    std::printf("RESULT %s %.4g %s - - %s\n", name.c_str(), figure, unit.c_str(), target.c_str());
    std::fflush(stdout);
}

void print_result(const std::string& name, double figure, const std::string& unit, double baseline,
                  const std::string& target) {
    check_word(name), check_word(unit), check_word(target);
    std::printf("RESULT %s %.4g %s %.4g %.3f %s\n", name.c_str(), figure, unit.c_str(), baseline, figure / baseline,
                target.c_str());
    std::fflush(stdout);
}

}  // namespace chat::bench
