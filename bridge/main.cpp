// chat-bridge: runs the bridge service until SIGINT/SIGTERM.
#include "bridge.h"

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
    chat::bridge::BridgeConfig config;
    try {
        config = chat::bridge::parse_args(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const std::exception& e) {
        std::cerr << "chat-bridge: " << e.what() << "\n" << chat::bridge::usage;
        return 2;
    }
    // Block the signals in every thread (Paho's included) and wait for them here.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    try {
        chat::bridge::Bridge bridge(config);
        bridge.start();
        std::cerr << "chat-bridge: connected to " << config.host << ":" << config.port << " as " << config.user
                  << " (client id " << config.client_id << ")" << std::endl;
        int sig = 0;
        sigwait(&signals, &sig);
        bridge.stop();
    } catch (const std::exception& e) {
        std::cerr << "chat-bridge: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
