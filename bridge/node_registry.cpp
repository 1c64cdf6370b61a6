// NodeRegistry: connections added from the nodes table, looked up by node id.
#include "node_registry.h"

#include "common/log.h"

namespace chat::bridge {
namespace {

// "host:port" as a node registers it; nullopt for anything else.
std::optional<std::pair<std::string, int>> split_address(const std::string& address) {
    auto colon = address.rfind(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    std::string port = address.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    int n = std::stoi(port);
    if (n < 1 || n > 65535) return std::nullopt;
    return std::make_pair(address.substr(0, colon), n);
}

}  // namespace

void NodeRegistry::refresh(const std::vector<storage::NodeInfo>& nodes) {
    std::vector<std::shared_ptr<NodeConnection>> replaced, all;
    {
        std::lock_guard lock(mu_);
        for (const auto& n : nodes) {
            auto& slot = connections_[n.id];
            if (slot && slot->address() == n.address) continue;
            auto address = split_address(n.address);
            if (!address) {
                log::log(log::Level::error, "node_address_invalid", {{"node", n.id}, {"address", n.address}});
                if (!slot) connections_.erase(n.id);
                continue;
            }
            // A node that came back on another address: its old connection can never succeed.
            if (slot) replaced.push_back(std::move(slot));
            slot = make_(n.id, address->first, address->second);
            log::log(log::Level::info, "node_added", {{"node", n.id}, {"address", n.address}});
        }
        for (const auto& [id, c] : connections_) all.push_back(c);
    }
    // Outside the lock: both may wait on the network.
    for (auto& c : replaced) c->disconnect();
    for (auto& c : all) c->keep_trying();
}

std::shared_ptr<NodeConnection> NodeRegistry::find(const std::string& node) const {
    std::lock_guard lock(mu_);
    auto it = connections_.find(node);
    return it == connections_.end() ? nullptr : it->second;
}

std::pair<size_t, size_t> NodeRegistry::connected() const {
    std::lock_guard lock(mu_);
    size_t up = 0;
    for (const auto& [id, c] : connections_) up += c->connected() ? 1 : 0;
    return {up, connections_.size()};
}

void NodeRegistry::disconnect_all() {
    std::vector<std::shared_ptr<NodeConnection>> all;
    {
        std::lock_guard lock(mu_);
        for (const auto& [id, c] : connections_) all.push_back(c);
    }
    for (auto& c : all) c->disconnect();
}

}  // namespace chat::bridge
