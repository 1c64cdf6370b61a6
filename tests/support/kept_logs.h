// The suite checks its own logs: every log a started process wrote is kept in one folder
// (build/tests/kept-logs), and every secret a test made (device tokens, bridge and operator
// secrets, message bodies) is listed there; test_log_secrets, run last, fails if a log holds one.
#pragma once

#include <filesystem>
#include <string>

namespace chat::testing {

std::filesystem::path kept_logs_dir();
// Copies a finished process's log into the folder (a unique name from `name` and `id`).
void keep_log(const std::filesystem::path& log_file, const std::string& name, long id);
// Lists a value no log may contain (values shorter than 6 bytes would match by chance: skipped).
void remember_secret(const std::string& value);

}  // namespace chat::testing
