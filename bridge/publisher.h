// What the bridge logic needs from MQTT: hand batches to the plugin of the node that stores them.
// NodePublisher is one broker connection (Paho in the service; unit tests record what would
// have been sent); ClusterPublisher (cluster_publisher.h) routes each batch to its users' homes.
#pragma once

#include "batch.h"

#include "common/entry.h"

#include <cstdint>
#include <string>
#include <vector>

namespace chat::bridge {

// What flush() found. `missing`: some publish got no answer (a timeout, a lost connection, no
// connection to the node at all): sending it again later may work. `refused`: the broker
// answered some with an error (a v5 PUBACK >= 0x80) and none is missing: sending the same
// again gets the same answer.
enum class Acks { all, missing, refused };

inline Acks worse(Acks a, Acks b) {
    if (a == Acks::missing || b == Acks::missing) return Acks::missing;
    return a == Acks::refused || b == Acks::refused ? Acks::refused : Acks::all;
}

class Publisher {
public:
    virtual ~Publisher() = default;
    // A b/fanout batch: `shared` stored for each of `members` by the node that homes them.
    virtual void fanout(const Entry& shared, const std::vector<std::string>& members, bool direct) = 0;
    // A b/replay page for one device, to the node it is connected to (its user's home).
    virtual void replay(const std::string& user, const std::string& device, const std::vector<Entry>& entries) = 0;
    // Waits until everything published so far was acknowledged (pacing); unless `all`, a batch
    // may not be stored: do not mark the work done.
    virtual Acks flush() { return Acks::all; }
};

// One broker node's connection: every batch is one publish on it.
class NodePublisher : public Publisher {
public:
    // QoS 1. `expires_ms` (0 = none) becomes the MQTT v5 Message Expiry Interval, so the
    // broker's own queue also drops a disappearing message in time.
    virtual void publish(const std::string& topic, std::string payload, int64_t expires_ms) = 0;

    void fanout(const Entry& shared, const std::vector<std::string>& members, bool direct) override {
        publish(fanout_batch_topic, fanout_batch(shared, members, direct), 0);
    }
    void replay(const std::string& user, const std::string& device, const std::vector<Entry>& entries) override {
        publish(replay_batch_topic, replay_batch(user, device, entries), 0);
    }
};

inline std::string inbox_topic(const std::string& user) { return "u/" + user + "/i"; }
inline std::string device_topic(const std::string& user, const std::string& device) {
    return "u/" + user + "/d/" + device;
}

}  // namespace chat::bridge
