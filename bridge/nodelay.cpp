// set_nodelay_to_port: finds the sockets through /proc/self/fd (Paho keeps its fd private).
#include "nodelay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace chat::bridge {
namespace {

int peer_port(int fd) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return -1;
    if (peer.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(peer).sin_port);
    if (peer.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(peer).sin6_port);
    return -1;
}

bool is_tcp(int fd) {
    int type = 0;
    socklen_t len = sizeof type;
    return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

}  // namespace

int set_nodelay_to_port(int port) {
    int done = 0;
    std::error_code ec;
    for (const auto& link : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const std::string name = link.path().filename().string();  // `end` points into it
        char* end = nullptr;
        long fd = std::strtol(name.c_str(), &end, 10);
        if (end == name.c_str() || *end != '\0') continue;
        struct stat st {};
        if (::fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        if (!is_tcp(static_cast<int>(fd)) || peer_port(static_cast<int>(fd)) != port) continue;
        int on = 1;
        if (::setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0) ++done;
    }
    return done;
}

}  // namespace chat::bridge
