// Relays: the live-only traffic of a cluster (typing, presence) from the node it was published
// on to the nodes whose devices should see it, as b/live batches. Nothing is stored, nothing is
// retried: a relay to a node the bridge cannot reach is skipped. One instance per thread.
#pragma once

#include "node_links.h"

#include "storage/cluster.h"

#include <mqtt/message.h>

#include <cstdint>
#include <functional>
#include <string>

namespace chat::bridge {

// The MQTT v5 user property a plugin puts on what it publishes for a b/live batch: the bridge
// never relays such a message again (no loops between nodes).
inline constexpr const char* relayed_property = "relayed";
// Whether `m` carries that property (whatever its value).
bool was_relayed(const mqtt::message& m);

class Relays {
public:
    Relays(storage::Cluster& cluster, NodeLinks& links, std::function<int64_t()> clock);

    // A typing notice published on t/{to} (the plugin's stamped typing JSON) for a user homed
    // on another node: to that home, for u/{to}/e at QoS 0. False when `to` has no reachable home.
    bool typing(const std::string& to, const std::string& payload);
    // A presence publish on p/{user} on node `origin`: to every other live node, at QoS 1, with
    // the retain flag it had. Returns the nodes it was sent to.
    size_t presence(const std::string& origin, const std::string& user, const std::string& payload, bool retain);

private:
    storage::Cluster& cluster_;
    NodeLinks& links_;
    std::function<int64_t()> clock_;
};

}  // namespace chat::bridge
