// Machine-readable bench figures: one "RESULT name figure unit baseline ratio target" line each,
// which scripts/bench.sh gathers from every bench into one table.
#pragma once

#include <string>

namespace chat::bench {

// A figure with no baseline (baseline and ratio print as "-"). `target` is "-" or a bound on the
// figure such as "<=10" or ">=0.7".
void print_result(const std::string& name, double figure, const std::string& unit, const std::string& target = "-");

// A figure next to its baseline from the same run; the ratio is figure / baseline and `target`
// bounds the ratio.
void print_result(const std::string& name, double figure, const std::string& unit, double baseline,
                  const std::string& target = "-");

}  // namespace chat::bench
