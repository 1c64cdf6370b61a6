// Command-line and mosquitto.conf parsing for the bridge.
#include "config.h"
#include "storage/db.h"

#include "common/broker_address.h"
#include "common/secret_file.h"

#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace chat::bridge {

const char* const usage =
    "usage: chat-bridge [--broker [tcp://|ssl://]HOST:PORT | --cluster] [--ca-file PEM]\n"
    "                   (--user U --password-file FILE | --mosquitto-conf PATH)\n"
    "                   [--client-id ID] [--db PATH] [--push-url URL] [--push-gateway URL]\n"
    "                   [--push-debounce-ms N]\n"
    "                   [--expiry DURATION] [--retention DURATION] [--sweep DURATION]\n"
    "                   [--metrics-port N]  (/metrics and /healthz on 127.0.0.1:N) [--log-level LEVEL]\n"
    "  durations: 30d, 12h, 15m, 90s, 500ms or plain milliseconds\n"
    "  --cluster: connect to every broker node in the database's nodes table (needs --db-url;\n"
    "             with --ca-file over TLS)\n";

namespace {

int64_t parse_number(const std::string& flag, const std::string& text) {
    size_t used = 0;
    int64_t n = -1;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || n < 0) throw std::invalid_argument(flag + " needs a non-negative number, got '" + text + "'");
    return n;
}

}  // namespace

int64_t parse_duration_ms(const std::string& text) {
    struct Unit {
        const char* suffix;
        int64_t ms;
    };
    static constexpr Unit units[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
    for (const auto& u : units) {
        std::string suffix = u.suffix;
        if (text.size() > suffix.size() && text.ends_with(suffix)) {
            std::string digits = text.substr(0, text.size() - suffix.size());
            if (digits.find_first_not_of("0123456789") == std::string::npos) {
                int64_t n = parse_number("duration", digits);
                if (n > std::numeric_limits<int64_t>::max() / u.ms) throw std::invalid_argument("duration too long: " + text);
                return n * u.ms;
            }
        }
    }
    return parse_number("duration", text);
}

void read_credentials(const std::string& conf_path, BridgeConfig& config) {
    std::ifstream in(conf_path);
    if (!in) throw std::invalid_argument("cannot read " + conf_path);
    std::string line, secret_file;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key, value;
        words >> key >> value;
        if (key == "plugin_opt_bridge_user") config.user = value;
        if (key == "plugin_opt_bridge_password_file") secret_file = value;
    }
    if (config.user.empty() || secret_file.empty()) {
        throw std::invalid_argument(conf_path + " has no plugin_opt_bridge_user/plugin_opt_bridge_password_file");
    }
    config.password = read_secret_file(secret_file);
}

namespace {

void parse_broker_address(const std::string& address, BridgeConfig& c) {
    auto parsed = chat::parse_broker_address("--broker", address);
    c.tls = parsed.tls;
    c.host = parsed.host;
    c.port = parsed.port;
}

}  // namespace

BridgeConfig parse_args(const std::vector<std::string>& args) {
    BridgeConfig c;
    std::string conf;
    bool broker = false, db_url = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        if (flag == "--cluster") {
            c.cluster = true;
            continue;
        }
        if (i + 1 >= args.size()) throw std::invalid_argument(flag + " needs a value");
        const std::string& v = args[++i];
        if (flag == "--broker") {
            parse_broker_address(v, c);
            broker = true;
        } else if (flag == "--ca-file") {
            c.ca_file = v;
        } else if (flag == "--user") {
            c.user = v;
        } else if (flag == "--password-file") {
            c.password = read_secret_file(v);
        } else if (flag == "--mosquitto-conf") {
            conf = v;
        } else if (flag == "--client-id") {
            c.client_id = v;
        } else if (flag == "--db") {
            c.db_path = v;
        } else if (flag == "--db-url") {
            storage::check_db_url(v);
            c.db_path = v;
            db_url = true;
        } else if (flag == "--push-url") {
            c.push_url = v;
        } else if (flag == "--push-gateway") {
            c.push_gateway = v;
        } else if (flag == "--push-debounce-ms") {
            c.push_debounce_ms = parse_number(flag, v);
        } else if (flag == "--expiry") {
            c.expiry_ms = parse_duration_ms(v);
        } else if (flag == "--retention") {
            c.retention_ms = parse_duration_ms(v);
        } else if (flag == "--sweep") {
            c.sweep_ms = parse_duration_ms(v);
        } else if (flag == "--log-level") {
            auto level = log::parse_level(v);
            if (!level) throw std::invalid_argument("--log-level must be debug, info, notice, warning or error");
            c.log_level = *level;
        } else if (flag == "--metrics-port") {
            int64_t port = parse_number(flag, v);
            if (port > 65535) throw std::invalid_argument("--metrics-port must be a port from 0 to 65535");
            c.metrics_port = static_cast<int>(port);
        } else {
            throw std::invalid_argument("unknown flag " + flag);
        }
    }
    if (!conf.empty() && c.user.empty()) read_credentials(conf, c);
    if (c.user.empty() || c.password.empty()) {
        throw std::invalid_argument("give --user and --password-file, or --mosquitto-conf with the bridge identity");
    }
    if (c.sweep_ms == 0) throw std::invalid_argument("--sweep must be positive");
    if (c.cluster && broker) throw std::invalid_argument("--cluster connects to the nodes in the database: drop --broker");
    if (c.cluster && !db_url) throw std::invalid_argument("--cluster needs --db-url (the nodes share one PostgreSQL database)");
    if (c.cluster) c.tls = !c.ca_file.empty();
    return c;
}

}  // namespace chat::bridge
