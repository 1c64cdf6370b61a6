// A small blocking MQTT test client over Paho C++ (v5 by default) with a consume queue.
#pragma once

#include <mqtt/async_client.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chat::testing {

struct Received {
    std::string topic;
    std::string payload;
    size_t user_properties = 0;  // how many MQTT v5 user properties it carried
};

class MqttClient {
public:
    MqttClient(int port, std::string client_id, bool v5 = true);
    ~MqttClient();

    // Returns the CONNACK reason code (0 = accepted) instead of throwing on refusal.
    int connect(const std::string& username, const std::string& password, bool clean = true);
    // Returns the granted QoS or the SUBACK reason code (>= 0x80 is a refusal).
    int subscribe(const std::string& filter, int qos = 1);
    // QoS 1 publish; returns the PUBACK reason code (v5) or 0 (v3.1.1).
    int publish(const std::string& topic, const std::string& payload, int qos = 1,
                const mqtt::properties& props = {}, bool retain = false);
    std::optional<Received> next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // Collects messages until `count` arrived or `timeout` passed.
    std::vector<Received> collect(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    void disconnect();
    bool connected() const { return client_.is_connected(); }

private:
    mqtt::async_client client_;
    bool v5_;
};

mqtt::properties user_props(std::initializer_list<std::pair<std::string, std::string>> pairs);

}  // namespace chat::testing
