// PahoPublisher: the NodePublisher of one Paho connection. Publishes QoS 1 without waiting and
// keeps the tokens so flush() can wait for the broker's acks; waits by itself once `window`
// publishes are outstanding (bounded memory). One instance per thread.
#pragma once

#include "bridge_metrics.h"
#include "publisher.h"

#include <mqtt/async_client.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace chat::bridge {

class PahoPublisher : public NodePublisher {
public:
    PahoPublisher(mqtt::async_client& client, std::function<int64_t()> clock, size_t window, BridgeMetrics& metrics)
        : client_(client), clock_(std::move(clock)), window_(window), metrics_(metrics) {}

    void publish(const std::string& topic, std::string payload, int64_t expires_ms) override;
    // Also reports publishes that an automatic wait (a full window) found unacknowledged.
    Acks flush() override;

private:
    Acks wait_pending();

    mqtt::async_client& client_;
    std::function<int64_t()> clock_;
    size_t window_;
    BridgeMetrics& metrics_;
    std::vector<mqtt::delivery_token_ptr> pending_;
    Acks earlier_ = Acks::all;
};

}  // namespace chat::bridge
