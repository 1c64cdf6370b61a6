// Bridge settings from the command line (and the bridge identity from mosquitto.conf).
#pragma once

#include "common/log.h"

#include <cstdint>
#include <string>
#include <vector>

namespace chat::bridge {

struct BridgeConfig {
    std::string host = "127.0.0.1";
    int port = 1883;
    bool tls = false;      // --broker ssl://HOST:PORT
    std::string ca_file;   // with tls: the CA that signed the broker's certificate (else the system's)
    std::string user;
    std::string password;  // read from a 0600 file, never given on the command line
    // Distinct per bridge process: each keeps a persistent session (queued work survives a restart).
    std::string client_id = "chat-bridge-1";
    std::string db_path = "var/chat.db";  // a SQLite path (--db) or a PostgreSQL URL (--db-url)
    std::string push_url;                    // empty: no user-level push hook
    std::string push_gateway;                // a Matrix push gateway (scheme://host:port); empty: no per-device pushes
    int64_t push_debounce_ms = 60'000;       // at most one push per device (or user) per window
    int64_t expiry_ms = 30LL * 86'400'000;   // any entry older than this is dropped
    int64_t retention_ms = 7LL * 86'400'000; // entries acked by every device are dropped after this
    int64_t sweep_ms = 1'000;                // how often expiry/retention/missed work run
    int fanout_chunk = 100;                  // members per write transaction
    int sync_page = 100;                     // entries per replay page
    log::Level log_level = log::Level::info;
    int metrics_port = 0;                    // 127.0.0.1 port of /metrics and /healthz; 0: none
    // --cluster: one connection per broker node of the `nodes` table (PostgreSQL, --db-url)
    // instead of one to --broker; TLS to every node when --ca-file is given.
    bool cluster = false;
};

// Parses --broker [tcp://|ssl://]host:port [--ca-file PEM] --user U --password-file F | --mosquitto-conf PATH, --client-id, --db | --db-url,
// --push-url, --push-gateway, --push-debounce-ms, --expiry, --retention, --sweep (durations like 30d, 12h, 90s, 500ms),
// --cluster (no value; needs --db-url, excludes --broker).
// Throws std::invalid_argument with a message naming the bad flag.
BridgeConfig parse_args(const std::vector<std::string>& args);

// Reads plugin_opt_bridge_user and the secret named by plugin_opt_bridge_password_file (a path
// relative to the working directory, as mosquitto reads it) from a mosquitto.conf file.
void read_credentials(const std::string& conf_path, BridgeConfig& config);

// "30d", "12h", "15m", "90s", "500ms" or a plain number of milliseconds.
int64_t parse_duration_ms(const std::string& text);

extern const char* const usage;

}  // namespace chat::bridge
