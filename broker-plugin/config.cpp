// Parsing and validation of plugin options.
#include "config.h"

#include "common/identity.h"
#include "common/secret_file.h"
#include "storage/db.h"

#include <sstream>
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

// "RATE/BURST", e.g. "20/200": RATE per second (a decimal), BURST at once.
RateLimit parse_rate(const std::string& key, const std::string& value) {
    auto slash = value.find('/');
    std::string rate = value.substr(0, slash);
    size_t used = 0;
    double per_second = 0;
    try {
        per_second = std::stod(rate, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (slash == std::string::npos || used != rate.size() || !(per_second > 0) || per_second > 1e6) {
        throw std::invalid_argument("plugin_opt_" + key + " must be RATE/BURST, e.g. 20/200 (RATE per second > 0)");
    }
    auto burst = parse_positive(key, value.substr(slash + 1), 1'000'000);
    return RateLimit{per_second, static_cast<double>(burst)};
}

std::vector<std::string> parse_list(const std::string& value) {
    std::vector<std::string> out;
    std::istringstream in(value);
    for (std::string item; std::getline(in, item, ',');) {
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

}  // namespace

std::string db_location(const Config& c) { return c.db_url.empty() ? c.db_path : c.db_url; }

std::string journal_dir(const Config& c) { return c.journal_dir.empty() ? c.db_path + ".journal" : c.journal_dir; }

Config parse_config(const std::map<std::string, std::string>& options) {
    Config c;
    for (const auto& [key, value] : options) {
        if (key == "db_path") {
            c.db_path = value;
        } else if (key == "db_url") {
            storage::check_db_url(value);
            c.db_url = value;
        } else if (key == "journal_dir") {
            c.journal_dir = value;
        } else if (key == "max_payload") {
            c.max_payload = static_cast<uint32_t>(parse_positive(key, value, 256 * 1024 * 1024));
        } else if (key == "bridge_user") {
            c.bridge_user = value;
        } else if (key == "bridge_password_file") {
            c.bridge_password = read_secret_file(value);
        } else if (key == "bridge_password") {
            throw std::invalid_argument(
                "plugin_opt_bridge_password is no longer read: put the secret in a 0600 file and name it with "
                "plugin_opt_bridge_password_file");
        } else if (key == "operator_user") {
            c.operator_user = value;
        } else if (key == "operator_password_file") {
            c.operator_password = read_secret_file(value);
        } else if (key == "bridge_clients") {
            c.bridge_clients = parse_list(value);
        } else if (key == "max_pending") {
            c.max_pending = parse_positive(key, value, int64_t{1} << 40);
        } else if (key == "acl_refresh_ms") {
            c.acl_refresh_ms = static_cast<int>(parse_positive(key, value, 60000));
        } else if (key == "publish_rate") {
            c.publish_limit = parse_rate(key, value);
        } else if (key == "refusals_before_kick") {
            c.refusals_before_kick = static_cast<int>(parse_positive(key, value, 1'000'000));
        } else if (key == "connect_rate") {
            c.connect_limit = parse_rate(key, value);
        } else if (key == "address_connect_rate") {
            c.address_connect_limit = parse_rate(key, value);
        } else if (key == "max_user_properties") {
            c.max_user_properties = static_cast<size_t>(parse_positive(key, value, 64));
        } else if (key == "max_import_backlog") {
            c.max_import_backlog = parse_positive(key, value, int64_t{1} << 40);
        } else if (key == "log_level") {
            auto level = log::parse_level(value);
            if (!level) throw std::invalid_argument("plugin_opt_log_level must be debug, info, notice, warning or error");
            c.log_level = *level;
        } else if (key == "metrics_port") {
            c.metrics_port = static_cast<int>(parse_positive(key, value, 65535));
        } else if (key == "max_import_lag_ms") {
            c.max_import_lag_ms = parse_positive(key, value, int64_t{1} << 40);
        } else if (key == "max_user_properties_bytes") {
            c.max_user_properties_bytes = static_cast<size_t>(parse_positive(key, value, 65536));
        } else if (key == "call_ring_timeout_ms") {
            c.call_ring_timeout_ms = parse_positive(key, value, 3'600'000);
        } else if (key == "status_lifetime_ms") {
            c.status_lifetime_ms = parse_positive(key, value, 30LL * 86'400'000);
        } else if (key == "max_calls") {
            c.max_calls = static_cast<size_t>(parse_positive(key, value, 10'000'000));
        } else if (key == "node_id") {
            if (!is_device_id(value)) throw std::invalid_argument("plugin_opt_node_id must be 1 to 16 of a-z 0-9");
            c.node_id = value;
        } else if (key == "node_address") {
            c.node_address = value;
        } else if (key == "lease_ms") {
            c.lease_ms = parse_positive(key, value, 600'000);
        } else {
            throw std::invalid_argument("unknown option plugin_opt_" + key);
        }
    }
    if (c.bridge_user.empty() || c.bridge_password.empty()) {
        throw std::invalid_argument("plugin_opt_bridge_user and plugin_opt_bridge_password_file are required");
    }
    if (c.operator_user.empty() != c.operator_password.empty()) {
        throw std::invalid_argument("plugin_opt_operator_user and plugin_opt_operator_password_file go together");
    }
    if (!c.operator_user.empty() && (c.operator_user == c.bridge_user || is_user_id(c.operator_user))) {
        throw std::invalid_argument("plugin_opt_operator_user must differ from the bridge user and from every user id");
    }
    if (!c.node_id.empty() && (c.node_address.empty() || c.db_url.empty())) {
        throw std::invalid_argument("plugin_opt_node_id needs plugin_opt_node_address and plugin_opt_db_url (a cluster shares PostgreSQL)");
    }
    if (c.bridge_clients.empty()) throw std::invalid_argument("plugin_opt_bridge_clients is required (the bridge client ids)");
    return c;
}

}  // namespace chat::broker
