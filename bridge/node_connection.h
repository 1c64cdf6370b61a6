// NodeConnection: one Paho MQTT v5 client with the bridge identity to one broker node. It
// subscribes the bridge's shared filters on every connect and hands each message it receives
// over (the live thread's queue): its callbacks never do the work themselves.
// Thread-safe: Paho's threads run the callbacks; connect()/keep_trying() are for one owning
// thread; connected() and client() may be called from any thread.
#pragma once

#include "config.h"

#include <mqtt/async_client.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace chat::bridge {

// A message a node's connection received, for the live thread.
struct Arrival {
    std::string node;  // the node's id; empty for the single --broker connection
    mqtt::const_message_ptr message;
};

class NodeConnection {
public:
    struct Handlers {
        // Takes the message; may wait while the live thread's queue is full (back pressure).
        std::function<void(Arrival)> hand_over;
        // Runs on a Paho thread after every successful connect (the first included).
        std::function<void()> connected;
    };
    // `cluster`: also the cross-node filters ($share/bridge/{m,r,t,p}/+).
    NodeConnection(std::string node, std::string host, int port, const BridgeConfig& config, bool cluster,
                   Handlers handlers);
    ~NodeConnection();
    NodeConnection(const NodeConnection&) = delete;
    NodeConnection& operator=(const NodeConnection&) = delete;

    // Connects and subscribes; throws std::runtime_error when the node refuses (or is not there).
    void connect();
    // Starts connecting unless an attempt runs or it connected once already (from then on Paho
    // reconnects by itself): a node that is down keeps being tried, once per call.
    void keep_trying();
    bool connected() const { return client_.is_connected(); }
    mqtt::async_client& client() { return client_; }
    const std::string& node() const { return node_; }
    const std::string& address() const { return address_; }
    // Ends the session's connection (waits a few seconds at most); the destructor calls it.
    void disconnect() noexcept;

private:
    mqtt::token_ptr start_connect();
    void subscribe_all(bool wait);

    std::string node_;
    std::string address_;  // host:port as in the nodes table (or --broker)
    int port_;
    bool cluster_;
    BridgeConfig config_;  // the identity and TLS settings, for every connect
    Handlers handlers_;
    mqtt::async_client client_;
    mqtt::token_ptr attempt_;  // the owning thread's last connect
    std::atomic<bool> ever_connected_{false};
    // False while connect() subscribes by itself (and checks the answers).
    std::atomic<bool> subscribe_on_connect_{true};
};

}  // namespace chat::bridge
