// chat-sidecar: the HTTP sidecar service (registration, keys, groups, blocks, presence, media).
#include "sidecar/server.h"

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
    chat::sidecar::SidecarConfig config;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
        std::cout << chat::sidecar::usage();
        return 0;
    }
    if (auto err = chat::sidecar::parse_args(args, config)) {
        std::cerr << "chat-sidecar: " << *err << '\n' << chat::sidecar::usage();
        return 2;
    }
    // Block the stop signals in every thread (the server threads inherit this mask) and wait for them here.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    try {
        chat::sidecar::Sidecar sidecar(config);
        int port = sidecar.start();
        std::cout << "chat-sidecar listening on " << config.host << ':' << port << " (data " << config.data_dir.string()
                  << ", db " << config.database().string() << ")" << std::endl;
        int sig = 0;
        sigwait(&stop_signals, &sig);
        sidecar.stop();
    } catch (const std::exception& e) {
        std::cerr << "chat-sidecar: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
