// The one thing the bridge logic needs from MQTT: publish a batch for the plugin. Paho implements it
// in the service; unit tests record what would have been sent.
#pragma once

#include <cstdint>
#include <string>

namespace chat::bridge {

// What flush() found. `missing`: some publish got no answer (a timeout, a lost connection):
// sending it again later may work. `refused`: the broker answered some with an error (a v5
// PUBACK >= 0x80) and none is missing: sending the same again gets the same answer.
enum class Acks { all, missing, refused };

class Publisher {
public:
    virtual ~Publisher() = default;
    // QoS 1. `expires_ms` (0 = none) becomes the MQTT v5 Message Expiry Interval, so the
    // broker's own queue also drops a disappearing message in time.
    virtual void publish(const std::string& topic, std::string payload, int64_t expires_ms) = 0;
    // Waits until everything published so far was acknowledged by the broker (pacing); unless
    // `all`, a batch may not be stored: do not mark the work done.
    virtual Acks flush() { return Acks::all; }
};

inline std::string inbox_topic(const std::string& user) { return "u/" + user + "/i"; }
inline std::string device_topic(const std::string& user, const std::string& device) {
    return "u/" + user + "/d/" + device;
}

}  // namespace chat::bridge
