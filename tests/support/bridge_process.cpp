// BridgeProcess: spawns chat-bridge with the fixture's broker address, identity and database.
#include "bridge_process.h"

#include <stdexcept>
#include <thread>

namespace chat::testing {

BridgeProcess::BridgeProcess(const BrokerFixture& broker, std::vector<std::string> extra_args, std::string client_id)
    : log_file_(broker.data_dir() / ("bridge-" + client_id + ".log")) {
    argv_ = {CHAT_BRIDGE_PATH,   "--broker",   "127.0.0.1:" + std::to_string(broker.port()),
             "--user",           broker.bridge_user(), "--password-file", broker.bridge_secret_file().string(),
             "--db",             broker.db_path().string(), "--client-id", client_id};
    argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
    start();
}

BridgeProcess::BridgeProcess(ClusterBridge, const BrokerFixture& node, std::string client_id,
                             std::vector<std::string> extra_args)
    : log_file_(node.data_dir() / ("bridge-" + client_id + ".log")) {
    argv_ = {CHAT_BRIDGE_PATH, "--cluster", "--db-url",  node.db_location(), "--user", node.bridge_user(),
             "--password-file", node.bridge_secret_file().string(), "--client-id", client_id};
    argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
    start();
}

BridgeProcess::~BridgeProcess() { stop(); }

void BridgeProcess::start() {
    size_t seen = log().size();
    process_ = std::make_unique<Process>(argv_, log_file_, sanitizer_env());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        std::string text = log();
        if (text.find("event=bridge_connected", seen) != std::string::npos) return;
        if (!process_->running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("chat-bridge did not start:\n" + log());
}

void BridgeProcess::kill_hard() {
    if (process_) process_->kill_hard();
}

void BridgeProcess::stop() {
    if (process_) process_->stop();
}

std::string BridgeProcess::log() const { return read_file(log_file_); }

}  // namespace chat::testing
