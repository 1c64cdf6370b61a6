// Runs the real chat-bridge binary against a BrokerFixture, as a child process.
#pragma once

#include "broker_fixture.h"
#include "process.h"

#include <memory>
#include <string>
#include <vector>

namespace chat::testing {

// Selects the constructor of a bridge with --cluster.
struct ClusterBridge {};

class BridgeProcess {
public:
    // Starts the bridge and waits until it reports being connected and subscribed.
    BridgeProcess(const BrokerFixture& broker, std::vector<std::string> extra_args = {},
                  std::string client_id = "chat-bridge-1");
    // A bridge with --cluster: it connects to every node in the nodes table of `node`'s database
    // (which the cluster shares), logging in with `node`'s bridge identity (all nodes share it).
    BridgeProcess(ClusterBridge, const BrokerFixture& node, std::string client_id = "chat-bridge-1",
                  std::vector<std::string> extra_args = {});
    ~BridgeProcess();

    void start();
    void kill_hard();  // kill -9
    void stop();
    std::string log() const;
    double cpu_seconds() const { return process_->cpu_seconds(); }  // for benchmarks
    pid_t pid() const { return process_->pid(); }

private:
    std::vector<std::string> argv_;
    std::filesystem::path log_file_;
    std::unique_ptr<Process> process_;
};

}  // namespace chat::testing
