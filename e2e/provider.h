// The Signal protocol library's global context with its crypto provider on OpenSSL 3
// (HMAC-SHA256, SHA-512, AES-CBC/CTR) and the system's random bytes.
#pragma once

#include <memory>

struct signal_context;

namespace chat::e2e {

// Owns one signal_context. One thread at a time (the library's locking functions are not set).
class SignalContext {
public:
    SignalContext();
    signal_context* get() const { return context_.get(); }

private:
    struct Destroy {
        void operator()(signal_context* c) const noexcept;
    };
    std::unique_ptr<signal_context, Destroy> context_;
};

// Throws std::runtime_error naming `what` when a library call returned a negative code.
void check(int rc, const char* what);

}  // namespace chat::e2e
