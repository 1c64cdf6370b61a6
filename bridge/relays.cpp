// Relays: typing to the recipient's home, presence to every other live node, as b/live batches.
#include "relays.h"

#include "batch.h"

namespace chat::bridge {

bool was_relayed(const mqtt::message& m) {
    const auto& props = m.get_properties();
    for (size_t i = 0, n = props.count(mqtt::property::USER_PROPERTY); i < n; ++i) {
        if (std::get<0>(mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, i)) == relayed_property) {
            return true;
        }
    }
    return false;
}

Relays::Relays(storage::Cluster& cluster, NodeLinks& links, std::function<int64_t()> clock)
    : cluster_(cluster), links_(links), clock_(std::move(clock)) {}

bool Relays::typing(const std::string& to, const std::string& payload) {
    bool sent = false;
    for (const auto& [node, users] : cluster_.route({to}, clock_())) {
        if (auto* out = links_.link(node)) {
            out->publish(live_batch_topic, live_batch("u/" + to + "/e", payload, 0, false), 0);
            sent = true;
        }
    }
    return sent;
}

size_t Relays::presence(const std::string& origin, const std::string& user, const std::string& payload, bool retain) {
    std::string batch = live_batch("p/" + user, payload, 1, retain);
    size_t sent = 0;
    for (const auto& node : cluster_.live_nodes(clock_())) {
        if (node.id == origin) continue;  // its own subscribers had it already
        if (auto* out = links_.link(node.id)) {
            out->publish(live_batch_topic, batch, 0);
            ++sent;
        }
    }
    return sent;
}

}  // namespace chat::bridge
