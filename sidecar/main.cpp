// chat-sidecar: the HTTP sidecar service (registration, keys, groups, blocks, presence, media).
#include "common/log.h"
#include "common/stop_signals.h"
#include "sidecar/server.h"

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
    chat::log::configure(config.log_level, chat::log::stderr_sink());
    chat::StopSignals stop_signals;  // before the server threads start
    try {
        chat::sidecar::Sidecar sidecar(config);
        int port = sidecar.start();
        std::cout << "chat-sidecar listening on " << config.host << ':' << port << " (data " << config.data_dir.string()
                  << ", db " << config.database() << ")" << std::endl;
        stop_signals.wait();
        sidecar.stop();
    } catch (const std::exception& e) {
        chat::log::log(chat::log::Level::error, "sidecar_stopped", {{"error", e.what()}});
        return 1;
    }
    return 0;
}
