// One MQTT login with libmosquitto (the C client mosquitto_pub uses): connect, wait for
// the CONNACK, disconnect. Cheaper and quicker to start than a Paho client, for benchmarks.
#pragma once

#include <string>

namespace chat::testing {

// Returns the CONNACK code (0 = accepted), or -1 if no CONNACK arrived within 5 s.
int mosquitto_login(int port, const std::string& client_id, const std::string& user, const std::string& password);

}  // namespace chat::testing
