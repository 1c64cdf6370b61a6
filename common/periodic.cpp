// Periodic's thread: wait an interval (or until stopped), run the task, repeat.
#include "periodic.h"

#include <exception>
#include <iostream>

namespace chat {

Periodic::Periodic(std::chrono::milliseconds interval, std::function<void()> task)
    : interval_(interval), task_(std::move(task)), thread_([this] { run(); }) {}

Periodic::~Periodic() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void Periodic::run() {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
        lock.unlock();
        // No exception may leave the thread (std::terminate would end the process): a failed
        // run is logged and the task runs again at the next interval.
        try {
            task_();
        } catch (const std::exception& e) {
            std::cerr << "chat: periodic task failed: " << e.what() << "\n";
        } catch (...) {
            std::cerr << "chat: periodic task failed\n";
        }
        lock.lock();
    }
}

}  // namespace chat
