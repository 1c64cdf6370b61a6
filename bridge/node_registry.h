// NodeRegistry: a cluster bridge's connections, one per broker node of the nodes table, by node
// id. The live thread refreshes it from the table every sweep (a new node gets a connection, a
// node whose address changed a new one); any thread looks connections up. Thread-safe.
#pragma once

#include "node_connection.h"

#include "storage/cluster.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace chat::bridge {

class NodeRegistry {
public:
    // Makes the (not yet connected) connection to `node` at host:port.
    using Factory = std::function<std::shared_ptr<NodeConnection>(const std::string& node, const std::string& host, int port)>;
    explicit NodeRegistry(Factory make) : make_(std::move(make)) {}

    // Adds what `nodes` has that the registry lacks, then lets every connection that never
    // connected try again. Nodes are never dropped: a dead node's users wait for it (or for its
    // lease to expire), and its connection keeps retrying.
    void refresh(const std::vector<storage::NodeInfo>& nodes);
    // The connection to `node`, or nullptr when there is none yet.
    std::shared_ptr<NodeConnection> find(const std::string& node) const;
    // How many connections are up, of how many.
    std::pair<size_t, size_t> connected() const;
    // Disconnects every connection (the bridge stops).
    void disconnect_all();

private:
    Factory make_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<NodeConnection>> connections_;
};

}  // namespace chat::bridge
