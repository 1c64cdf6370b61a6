// chat-bridge: runs the bridge service until SIGINT/SIGTERM.
#include "bridge.h"
#include "common/log.h"
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
    chat::log::configure(config.log_level, chat::log::stderr_sink());
    chat::StopSignals stop_signals;  // before Paho starts its threads
    try {
        chat::bridge::Bridge bridge(config);
        bridge.start();
        chat::log::log(chat::log::Level::info, "bridge_connected",
                       {{"broker", config.host + ":" + std::to_string(config.port)}, {"user", config.user},
                        {"client_id", config.client_id}, {"metrics_port", bridge.metrics_port()}});
        stop_signals.wait();
        bridge.stop();
    } catch (const std::exception& e) {
        chat::log::log(chat::log::Level::error, "bridge_stopped", {{"error", e.what()}});
        return 1;
    }
    return 0;
}
