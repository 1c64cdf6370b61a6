// ClusterPublisher: the Publisher of a bridge connected to several broker nodes. Each batch goes
// to the home node of its users (storage::Cluster::route), split into one batch per node; a
// node the bridge cannot reach makes flush() answer `missing`, so the work is retried, and
// once that node's lease has expired route() moves its users to live nodes.
// One instance per thread (it holds that thread's links and statements).
#pragma once

#include "node_links.h"
#include "publisher.h"

#include "storage/cluster.h"

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace chat::bridge {

class ClusterPublisher : public Publisher {
public:
    ClusterPublisher(storage::Cluster& cluster, NodeLinks& links, std::function<int64_t()> clock);

    void fanout(const Entry& shared, const std::vector<std::string>& members, bool direct) override;
    void replay(const std::string& user, const std::string& device, const std::vector<Entry>& entries) override;
    // Waits for every node published to since the last flush.
    Acks flush() override;

private:
    // `node`'s publisher, remembered for flush(); nullptr (flush() then says missing) without a link.
    NodePublisher* to_node(const std::string& node);

    storage::Cluster& cluster_;
    NodeLinks& links_;
    std::function<int64_t()> clock_;
    std::set<NodePublisher*> touched_;
    bool unreachable_ = false;
};

}  // namespace chat::bridge
