// NodeConnection: the Paho client's options, subscriptions and callbacks for one broker node.
#include "node_connection.h"

#include "nodelay.h"

#include "common/log.h"

namespace chat::bridge {
namespace {

constexpr int session_expiry_s = 7 * 86400;
// The last one delivers nothing (the plugin refuses the bridge every u/ entry): it only gives
// every inbox topic a subscriber, so a PUBACK does not tell whether the recipient is online.
const char* const filters[] = {"$share/bridge/g/+", "$share/bridge/k/+", "$share/bridge/s/+", "$share/bridge/u/+/i",
                               "$share/bridge/l/+", "$share/bridge/st/+"};
// What a node hands on to other nodes: direct messages and read receipts to users homed
// elsewhere, typing to them, and presence (whose retain flag must survive, for the relay).
const char* const cluster_filters[] = {"$share/bridge/m/+", "$share/bridge/r/+", "$share/bridge/t/+",
                                       "$share/bridge/p/+"};

}  // namespace

NodeConnection::NodeConnection(std::string node, std::string host, int port, const BridgeConfig& config, bool cluster,
                               Handlers handlers)
    : node_(std::move(node)), address_(host + ":" + std::to_string(port)), port_(port), cluster_(cluster),
      config_(config), handlers_(std::move(handlers)),
      client_((config.tls ? "ssl://" : "tcp://") + address_, config.client_id, mqtt::create_options(MQTTVERSION_5)) {
    // Both run on Paho threads: only issue the (asynchronous) subscribes and hand things over.
    client_.set_connected_handler([this](const std::string&) {
        ever_connected_ = true;
        set_nodelay_to_port(port_);
        if (!subscribe_on_connect_) return;
        try {
            subscribe_all(false);
            handlers_.connected();
        } catch (const std::exception& e) {
            log::log(log::Level::error, "node_subscribe_failed", {{"node", node_}, {"error", e.what()}});
        }
    });
    client_.set_message_callback([this](mqtt::const_message_ptr message) {
        try {
            handlers_.hand_over(Arrival{node_, std::move(message)});
        } catch (const std::exception& e) {  // nothing may cross into Paho's C threads
            log::log(log::Level::error, "message_dropped", {{"node", node_}, {"error", e.what()}});
        }
    });
}

NodeConnection::~NodeConnection() { disconnect(); }

mqtt::token_ptr NodeConnection::start_connect() {
    // Built where it is used, as the one-broker bridge always did: a connect_options kept in a
    // member crashed Paho 1.2.0 inside connect() (the C struct's property pointer dangled).
    auto opts = mqtt::connect_options_builder()
                    .mqtt_version(MQTTVERSION_5)
                    .user_name(config_.user)
                    .password(config_.password)
                    .clean_start(false)
                    .properties({mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL, session_expiry_s)})
                    .automatic_reconnect(std::chrono::milliseconds(200), std::chrono::seconds(5))
                    .max_inflight(1000)
                    .connect_timeout(std::chrono::seconds(5))
                    .finalize();
    if (config_.tls) {
        auto ssl = mqtt::ssl_options_builder().enable_server_cert_auth(true).verify(true);
        if (!config_.ca_file.empty()) ssl.trust_store(config_.ca_file);
        opts.set_ssl(ssl.finalize());
    }
    return client_.connect(opts);
}

void NodeConnection::connect() {
    subscribe_on_connect_ = false;
    try {
        start_connect()->wait();
    } catch (const mqtt::exception& e) {
        subscribe_on_connect_ = true;
        throw std::runtime_error("cannot connect to " + client_.get_server_uri() + " as " + config_.user + ": " + e.what());
    }
    set_nodelay_to_port(port_);
    subscribe_all(true);
    subscribe_on_connect_ = true;
}

void NodeConnection::keep_trying() {
    if (ever_connected_ || client_.is_connected()) return;
    if (attempt_ && !attempt_->is_complete()) return;
    try {
        attempt_ = start_connect();
    } catch (const mqtt::exception& e) {
        log::log(log::Level::warning, "node_connect_failed", {{"node", node_}, {"address", address_}, {"error", e.what()}});
    }
}

void NodeConnection::subscribe_all(bool wait) {
    auto subscribe = [&](const char* filter, const mqtt::subscribe_options& opts) {
        auto tok = client_.subscribe(filter, 1, opts);
        if (!wait) return;
        tok->wait();
        auto response = tok->get_subscribe_response();
        auto codes = response.get_reason_codes();
        if (codes.empty() || codes[0] >= 0x80) throw std::runtime_error(std::string("subscription refused: ") + filter);
    };
    for (const char* f : filters) subscribe(f, mqtt::subscribe_options());
    if (!cluster_) return;
    for (const char* f : cluster_filters) subscribe(f, mqtt::subscribe_options(false, true));
}

void NodeConnection::disconnect() noexcept {
    try {
        if (client_.is_connected()) client_.disconnect()->wait_for(std::chrono::seconds(5));
    } catch (const std::exception& e) {
        log::log(log::Level::warning, "disconnect_failed", {{"node", node_}, {"error", e.what()}});
    }
}

}  // namespace chat::bridge
