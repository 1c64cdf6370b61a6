// The broker bench's lean load client: one publisher and one subscriber over libmosquitto driven
// by one thread's poll loop (no network threads, no locks), run in its own process so that the
// bench can add a second one and show that the client is not what saturates.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chat::bench {

struct LoadSpec {
    int port = 0;
    std::string pub_id, pub_user, pub_pass, sub_id, sub_user, sub_pass;  // empty user: anonymous
    std::string topic, filter;
    int count = 0;        // messages to publish
    double rate = 0;      // per second; 0 = as fast as the window allows
    int window = 64;      // QoS 1 publishes in flight
    size_t payload = 64;  // bytes
    bool binary = false;  // payload bytes as ciphertext looks (not UTF-8) instead of text
};

struct LoadResult {
    int64_t start_ns = 0, end_ns = 0;  // CLOCK_MONOTONIC, comparable between processes
    int64_t arrivals = 0;
    int64_t p50_ns = 0, p99_ns = 0;  // publish to arrival
    int64_t cpu_ns = 0;              // the client process's own CPU time over the run
};

// Connects both clients and subscribes, calls `ready` (which returns when timing may start), then
// publishes `count` messages and waits for them all; throws on a lost or refused connection, a
// missing or extra arrival, or 30 s without progress.
LoadResult run_load(const LoadSpec& spec, const std::function<void()>& ready);

// The payload a spec publishes: `payload` times 'x', or as many fixed pseudo-random bytes that open
// like a MessagePack map (an end-to-end envelope), so that they are not UTF-8.
std::string payload_of(const LoadSpec& spec);

// The spec as command-line words and back (for the client process).
std::vector<std::string> to_args(const LoadSpec& spec);
LoadSpec spec_from_args(const std::vector<std::string>& args);

}  // namespace chat::bench
