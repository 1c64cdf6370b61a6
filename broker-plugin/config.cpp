// Parsing and validation of plugin options.
#include "config.h"

#include <stdexcept>

namespace chat::broker {
namespace {

int64_t parse_positive(const std::string& key, const std::string& value, int64_t max) {
    size_t used = 0;
    int64_t n = 0;
    try {
        n = std::stoll(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != value.size() || n <= 0 || n > max) {
        throw std::invalid_argument("plugin_opt_" + key + " must be a whole number from 1 to " + std::to_string(max));
    }
    return n;
}

}  // namespace

Config parse_config(const std::map<std::string, std::string>& options) {
    Config c;
    for (const auto& [key, value] : options) {
        if (key == "db_path") {
            c.db_path = value;
        } else if (key == "max_payload") {
            c.max_payload = static_cast<uint32_t>(parse_positive(key, value, 256 * 1024 * 1024));
        } else if (key == "bridge_user") {
            c.bridge_user = value;
        } else if (key == "bridge_password") {
            c.bridge_password = value;
        } else if (key == "max_pending") {
            c.max_pending = parse_positive(key, value, int64_t{1} << 40);
        } else if (key == "acl_refresh_ms") {
            c.acl_refresh_ms = static_cast<int>(parse_positive(key, value, 60000));
        } else {
            throw std::invalid_argument("unknown option plugin_opt_" + key);
        }
    }
    if (c.bridge_user.empty() != c.bridge_password.empty()) {
        throw std::invalid_argument("plugin_opt_bridge_user and plugin_opt_bridge_password go together");
    }
    return c;
}

}  // namespace chat::broker
