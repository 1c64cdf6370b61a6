// keep_log and remember_secret: appends to files in CHAT_TEST_LOG_DIR.
#include "kept_logs.h"

#include <fcntl.h>
#include <unistd.h>

namespace chat::testing {

std::filesystem::path kept_logs_dir() { return CHAT_TEST_LOG_DIR; }

void keep_log(const std::filesystem::path& log_file, const std::string& name, long id) {
    std::error_code ec;
    std::filesystem::create_directories(kept_logs_dir(), ec);
    auto target = kept_logs_dir() / (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(id) + ".log");
    std::filesystem::copy_file(log_file, target, std::filesystem::copy_options::overwrite_existing, ec);
}

void remember_secret(const std::string& value) {
    if (value.size() < 6 || value.find('\n') != std::string::npos) return;
    std::error_code ec;
    std::filesystem::create_directories(kept_logs_dir(), ec);
    // One write() per line with O_APPEND: tests running in parallel do not interleave lines.
    int fd = ::open((kept_logs_dir() / "secrets.list").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    std::string line = value + "\n";
    (void)::write(fd, line.data(), line.size());
    ::close(fd);
}

}  // namespace chat::testing
