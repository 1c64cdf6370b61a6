// MqttClient: Paho async client used synchronously, consuming on the caller's thread.
#include "mqtt_client.h"

#include "kept_logs.h"
namespace chat::testing {

MqttClient::MqttClient(int port, std::string client_id, bool v5)
    : client_("tcp://127.0.0.1:" + std::to_string(port), client_id,
              mqtt::create_options(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1)),
      v5_(v5) {
    client_.start_consuming();
}

MqttClient::~MqttClient() {
    try {
        disconnect();
    } catch (...) {
    }
}

int MqttClient::connect(const std::string& username, const std::string& password, bool clean) {
    auto builder = mqtt::connect_options_builder()
                       .mqtt_version(v5_ ? MQTTVERSION_5 : MQTTVERSION_3_1_1)
                       .user_name(username)
                       .password(password)
                       .connect_timeout(std::chrono::seconds(5));
    if (v5_) {
        builder.clean_start(clean);
    } else {
        builder.clean_session(clean);
    }
    try {
        client_.connect(builder.finalize())->wait();
        return 0;
    } catch (const mqtt::exception& e) {
        return e.get_reason_code() ? e.get_reason_code() : (e.get_return_code() > 0 ? e.get_return_code() : 255);
    }
}

int MqttClient::subscribe(const std::string& filter, int qos) {
    try {
        auto tok = client_.subscribe(filter, qos);
        tok->wait();
        if (!v5_) return qos;
        auto response = tok->get_subscribe_response();
        auto codes = response.get_reason_codes();
        return codes.empty() ? 0x80 : static_cast<int>(codes[0]);
    } catch (const mqtt::exception& e) {
        return e.get_reason_code() ? e.get_reason_code() : 0x80;
    }
}

int MqttClient::publish(const std::string& topic, const std::string& payload, int qos,
                        const mqtt::properties& props, bool retain) {
    // A message body (not a control payload such as an ack) must never reach a log.
    if (topic.starts_with("m/") || topic.starts_with("g/")) remember_secret(payload);
    auto msg = mqtt::message_ptr_builder().topic(topic).payload(payload).qos(qos).retained(retain).properties(props)
                   .finalize();
    try {
        auto tok = client_.publish(msg);
        tok->wait();
        return tok->get_reason_code();
    } catch (const mqtt::exception& e) {
        return e.get_reason_code() ? e.get_reason_code() : 0x80;
    }
}

std::optional<Received> MqttClient::next(std::chrono::milliseconds timeout) {
    mqtt::const_message_ptr msg;
    if (!client_.try_consume_message_for(&msg, timeout) || !msg) return std::nullopt;
    return Received{msg->get_topic(), msg->to_string(), msg->get_properties().count(mqtt::property::USER_PROPERTY)};
}

std::vector<Received> MqttClient::collect(size_t count, std::chrono::milliseconds timeout) {
    std::vector<Received> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        if (auto m = next(left)) out.push_back(*m);
    }
    return out;
}

void MqttClient::disconnect() {
    if (client_.is_connected()) client_.disconnect()->wait();
}

mqtt::properties user_props(std::initializer_list<std::pair<std::string, std::string>> pairs) {
    mqtt::properties props;
    for (const auto& [k, v] : pairs) props.add(mqtt::property(mqtt::property::USER_PROPERTY, k, v));
    return props;
}

}  // namespace chat::testing
