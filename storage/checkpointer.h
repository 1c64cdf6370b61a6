// WalCheckpointer: copies the WAL back into the database file on its own thread and
// connection, so that a latency-critical writer (the broker thread) never pays for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace chat::storage {

class WalCheckpointer {
public:
    WalCheckpointer(std::string db_path, std::chrono::milliseconds interval);
    ~WalCheckpointer();
    WalCheckpointer(const WalCheckpointer&) = delete;
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

private:
    void run();
    std::string db_path_;
    std::chrono::milliseconds interval_;
    std::mutex mu_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace chat::storage
