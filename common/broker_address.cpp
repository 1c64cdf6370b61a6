// parse_broker_address (broker_address.h).
#include "broker_address.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace chat {

BrokerAddress parse_broker_address(const std::string& flag, const std::string& address) {
    BrokerAddress a;
    std::string rest = address;
    if (rest.starts_with("ssl://")) {
        a.tls = true;
        rest = rest.substr(6);
    } else if (rest.starts_with("tcp://")) {
        rest = rest.substr(6);
    }
    auto colon = rest.rfind(':');
    std::string port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    bool digits = !port.empty() && port.size() <= 5 &&
                  std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
    if (colon == 0 || !digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
        throw std::invalid_argument(flag + " needs [tcp://|ssl://]HOST:PORT with a port of 1 to 65535");
    }
    a.host = rest.substr(0, colon);
    a.port = std::stoi(port);
    return a;
}

}  // namespace chat
