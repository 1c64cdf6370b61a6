// Periodic: runs a task every interval on its own thread until destroyed.
// The task runs only on that thread; the destructor wakes it and waits for it to finish.
// A task that throws is logged and runs again at the next interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace chat {

class Periodic {
public:
    Periodic(std::chrono::milliseconds interval, std::function<void()> task);
    ~Periodic();
    Periodic(const Periodic&) = delete;
    Periodic& operator=(const Periodic&) = delete;

private:
    void run();
    std::chrono::milliseconds interval_;
    std::function<void()> task_;
    std::mutex mu_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace chat
