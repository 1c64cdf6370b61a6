// Shared secrets kept in files (never in a config that is committed): reading and vetting them.
#pragma once

#include <string>

namespace chat {

// The secret a set-up script generated into `path`: its first line. Throws std::invalid_argument
// naming the file when it cannot be read, is readable by group or others, is shorter than
// 16 characters, or is a value printed in the repository's history (a sample secret).
std::string read_secret_file(const std::string& path);

}  // namespace chat
