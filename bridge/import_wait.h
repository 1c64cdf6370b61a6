// The plugin makes entries durable in its journal and imports them into SQLite moments later;
// bridge work that reads what a publish just stored waits for that import first.
#pragma once

#include <chrono>
#include <thread>

namespace chat::bridge {

// Polls `ready` every millisecond for up to `limit`; returns its last answer.
template <typename Ready>
bool wait_until_imported(Ready ready, std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!ready()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace chat::bridge
