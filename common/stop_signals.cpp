// StopSignals: block the stop signals process-wide, then wait for one with sigwait().
#include "stop_signals.h"

#include <pthread.h>

namespace chat {

StopSignals::StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

int StopSignals::wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
}

}  // namespace chat
