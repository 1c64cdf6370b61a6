// StopSignals: SIGINT/SIGTERM taken synchronously by a service's main thread.
#pragma once

#include <csignal>

namespace chat {

class StopSignals {
public:
    // Blocks SIGINT and SIGTERM in this thread and every thread started after it (library
    // threads included), so that only wait() receives them. Construct before starting threads.
    StopSignals();
    // Returns the signal that asked the service to stop.
    int wait();

private:
    sigset_t set_;
};

}  // namespace chat
