// The HTTP sidecar service: routes of PROTOCOL.md's "HTTP sidecar" table over the sidecar services.
#pragma once

#include "config.h"
#include "metrics.h"
#include "sms.h"

#include <memory>

namespace chat::sidecar {

// Owns the httplib server and its thread. start()/stop() from one controlling thread;
// handlers run on httplib's worker pool and only touch thread-safe services.
class Sidecar {
public:
    // `sms` overrides the sender chosen by the config (tests and the benchmark use this).
    explicit Sidecar(SidecarConfig config, std::unique_ptr<SmsSender> sms = nullptr);
    ~Sidecar();
    Sidecar(const Sidecar&) = delete;
    Sidecar& operator=(const Sidecar&) = delete;

    // Binds (port 0 = any free port), serves on a background thread, returns the bound port.
    int start();
    void stop();
    Metrics& metrics();
    const SidecarConfig& config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace chat::sidecar
