// Periodic's thread: wait an interval (or until stopped), run the task, repeat.
#include "periodic.h"

#include "log.h"

#include <exception>

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
            log::log(log::Level::error, "periodic_task_failed", {{"error", e.what()}});
        } catch (...) {
            log::log(log::Level::error, "periodic_task_failed");
        }
        lock.lock();
    }
}

}  // namespace chat
