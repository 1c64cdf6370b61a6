// POSIX wrappers with errno turned into std::system_error.
#include "file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace chat::sidecar {
namespace {

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

Fd open_file(const std::filesystem::path& path, int flags, int mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) fail("open");
    return Fd(fd);
}

void write_all(const Fd& fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t n = ::write(fd.get(), data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("write");
        }
        data += n;
        len -= static_cast<size_t>(n);
    }
}

void write_all_at(const Fd& fd, const char* data, size_t len, int64_t offset) {
    while (len > 0) {
        ssize_t n = ::pwrite(fd.get(), data, len, offset);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("pwrite");
        }
        data += n;
        offset += n;
        len -= static_cast<size_t>(n);
    }
}

void sync_file(const Fd& fd) {
    if (::fdatasync(fd.get()) != 0) fail("fdatasync");
}

int64_t file_size(const Fd& fd) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) fail("fstat");
    return st.st_size;
}

size_t read_at(const Fd& fd, char* data, size_t len, int64_t offset) {
    for (;;) {
        ssize_t n = ::pread(fd.get(), data, len, offset);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) fail("pread");
    }
}

}  // namespace chat::sidecar
