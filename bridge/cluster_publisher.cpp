// ClusterPublisher: batches split by their users' home nodes, one publish per node.
#include "cluster_publisher.h"

namespace chat::bridge {

ClusterPublisher::ClusterPublisher(storage::Cluster& cluster, NodeLinks& links, std::function<int64_t()> clock)
    : cluster_(cluster), links_(links), clock_(std::move(clock)) {}

NodePublisher* ClusterPublisher::to_node(const std::string& node) {
    NodePublisher* out = links_.link(node);
    if (out) {
        touched_.insert(out);
    } else {
        unreachable_ = true;
    }
    return out;
}

void ClusterPublisher::fanout(const Entry& shared, const std::vector<std::string>& members, bool direct) {
    int64_t now = clock_();
    size_t routed = 0;
    for (const auto& [node, users] : cluster_.route(members, now)) {
        routed += users.size();
        if (auto* out = to_node(node)) out->fanout(shared, users, direct);
    }
    // route() leaves out users that do not exist (nothing to store for them) and, while no node
    // is live, everyone: only the latter is work to do again.
    if (routed < members.size() && cluster_.live_nodes(now).empty()) unreachable_ = true;
}

void ClusterPublisher::replay(const std::string& user, const std::string& device, const std::vector<Entry>& entries) {
    // The device is connected to its user's home (any other node refuses it).
    for (const auto& [node, users] : cluster_.route({user}, clock_())) {
        if (auto* out = to_node(node)) out->replay(user, device, entries);
    }
}

Acks ClusterPublisher::flush() {
    Acks acks = unreachable_ ? Acks::missing : Acks::all;
    for (auto* out : touched_) acks = worse(acks, out->flush());
    touched_.clear();
    unreachable_ = false;
    return acks;
}

}  // namespace chat::bridge
