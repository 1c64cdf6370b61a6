// A broker address as the bridge and chat-client take it: [tcp://|ssl://]HOST:PORT.
#pragma once

#include <string>

namespace chat {

struct BrokerAddress {
    bool tls = false;  // ssl://
    std::string host;
    int port = 0;
};

// Throws std::invalid_argument naming `flag` for anything but [tcp://|ssl://]HOST:PORT with a
// port of 1 to 65535.
BrokerAddress parse_broker_address(const std::string& flag, const std::string& address);

}  // namespace chat
