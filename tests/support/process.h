// Test helpers for child processes, temporary folders and loopback ports.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/types.h>

namespace chat::testing {

// A fresh folder under /tmp, removed with everything in it on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// A loopback TCP port that was free a moment ago (bound to port 0, then released).
int free_port();
// 127.0.0.1:port as a socket address.
sockaddr_in loopback_address(int port);
// Polls until something accepts TCP connections on 127.0.0.1:port.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

// A child process with stdout+stderr in a log file; stopped (TERM, then KILL) on destruction.
class Process {
public:
    Process(std::vector<std::string> argv, std::filesystem::path log_file,
            std::vector<std::string> extra_env = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    void kill_hard();  // SIGKILL and reap: a crash
    void stop();       // SIGTERM, wait up to 5 s, then SIGKILL
    bool running();
    std::string log() const;
    // CPU time (user + system) the process has used so far, from /proc.
    double cpu_seconds() const;
    pid_t pid() const { return pid_; }
    // Anonymous resident memory (heap, not mapped files) in bytes, from /proc; 0 when gone.
    int64_t anonymous_rss() const;

private:
    pid_t pid_ = -1;
    std::filesystem::path log_file_;
};

// Runs a command to completion; returns its exit code and fills `output` with stdout+stderr.
int run_command(const std::vector<std::string>& argv, std::string& output);

std::string read_file(const std::filesystem::path& p);

// Polls `done` every 20 ms until it holds or `timeout` passes; returns its last answer. For
// state that settles shortly after an acknowledgement (e.g. journal entries reaching SQLite).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace chat::testing
