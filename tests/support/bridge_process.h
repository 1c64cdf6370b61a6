// Runs the real chat-bridge binary against a BrokerFixture, as a child process.
#pragma once

#include "broker_fixture.h"
#include "process.h"

#include <memory>
#include <string>
#include <vector>

namespace chat::testing {

class BridgeProcess {
public:
    // Starts the bridge and waits until it reports being connected and subscribed.
    BridgeProcess(const BrokerFixture& broker, std::vector<std::string> extra_args = {},
                  std::string client_id = "chat-bridge-1");
    ~BridgeProcess();

    void start();
    void kill_hard();  // kill -9
    void stop();
    std::string log() const;

private:
    std::vector<std::string> argv_;
    std::filesystem::path log_file_;
    std::unique_ptr<Process> process_;
};

}  // namespace chat::testing
