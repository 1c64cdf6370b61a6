// The operator CLI (chatctl): users, devices, tokens, groups, blocks, as a testable function.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace chat::tools {

// Runs one command; writes results to `out`, one-line errors to `err`; returns the exit code.
int run_operator_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace chat::tools
