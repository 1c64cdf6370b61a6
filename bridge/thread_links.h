// ThreadLinks: the NodeLinks of one bridge thread over the NodeRegistry: a PahoPublisher per
// node connection, made when first needed. One instance per thread.
#pragma once

#include "bridge_metrics.h"
#include "node_links.h"
#include "node_registry.h"
#include "paho_publisher.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chat::bridge {

class ThreadLinks : public NodeLinks {
public:
    ThreadLinks(NodeRegistry& registry, std::function<int64_t()> clock, size_t window, BridgeMetrics& metrics)
        : registry_(registry), clock_(std::move(clock)), window_(window), metrics_(metrics) {}

    NodePublisher* link(const std::string& node) override;

private:
    struct Link {
        std::shared_ptr<NodeConnection> connection;  // keeps the client alive for the publisher
        std::unique_ptr<PahoPublisher> out;
    };
    NodeRegistry& registry_;
    std::function<int64_t()> clock_;
    size_t window_;
    BridgeMetrics& metrics_;
    std::map<std::string, Link> links_;
    std::vector<Link> replaced_;  // publishers of replaced connections stay valid (NodeLinks)
};

}  // namespace chat::bridge
