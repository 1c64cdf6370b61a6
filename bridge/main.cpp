// chat-bridge: runs the bridge service until SIGINT/SIGTERM.
#include "bridge.h"
#include "common/stop_signals.h"

#include <iostream>

int main(int argc, char** argv) {
    chat::bridge::BridgeConfig config;
    try {
        config = chat::bridge::parse_args(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "chat-bridge: " << e.what() << "\n" << chat::bridge::usage;
        return 2;
    }
    chat::StopSignals stop_signals;  // before Paho starts its threads
    try {
        chat::bridge::Bridge bridge(config);
        bridge.start();
        std::cerr << "chat-bridge: connected to " << config.host << ":" << config.port << " as " << config.user
                  << " (client id " << config.client_id << ")" << std::endl;
        stop_signals.wait();
        bridge.stop();
    } catch (const std::exception& e) {
        std::cerr << "chat-bridge: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
