// Plugin settings read from plugin_opt_* lines in mosquitto.conf.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace chat::broker {

struct Config {
    std::string db_path = "var/chat.db";
    uint32_t max_payload = 64 * 1024;
    std::string bridge_user;      // empty: no bridge identity
    std::string bridge_password;  // compared after hashing, in constant time
    int acl_refresh_ms = 200;     // how often group/block changes are picked up
    int64_t max_pending = 0;      // per-user cap on unacked entries; 0 = no cap
};

// Throws std::invalid_argument naming the bad option.
Config parse_config(const std::map<std::string, std::string>& options);

}  // namespace chat::broker
