// Small POSIX file helpers: an owning file descriptor and full writes/reads (media bytes go through these).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace chat::sidecar {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd();
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// Throws std::system_error on failure.
Fd open_file(const std::filesystem::path& path, int flags, int mode = 0600);
void write_all(const Fd& fd, const char* data, size_t len);
void write_all_at(const Fd& fd, const char* data, size_t len, int64_t offset);
void sync_file(const Fd& fd);
int64_t file_size(const Fd& fd);
// Reads up to len bytes at offset; returns the count (0 at end of file).
size_t read_at(const Fd& fd, char* data, size_t len, int64_t offset);

}  // namespace chat::sidecar
