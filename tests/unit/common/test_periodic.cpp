// Unit tests for Periodic: a task that throws does not end the process and runs again.
#include "common/periodic.h"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

TEST_CASE("a periodic task that throws is run again instead of ending the process") {
    std::mutex mu;
    std::condition_variable ran;
    int runs = 0;
    {
        chat::Periodic periodic(std::chrono::milliseconds(1), [&] {
            {
                std::lock_guard lock(mu);
                ++runs;
            }
            ran.notify_all();
            if (runs % 2 == 1) throw std::runtime_error("odd run");
            throw 42;  // not even a std::exception
        });
        std::unique_lock lock(mu);
        ran.wait(lock, [&] { return runs >= 3; });
    }
    CHECK(runs >= 3);
}
