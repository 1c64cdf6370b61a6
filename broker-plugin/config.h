// Plugin settings read from plugin_opt_* lines in mosquitto.conf.
#pragma once

#include "common/log.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace chat::broker {

// A token bucket's shape: `burst` at once, refilled at `per_second`.
struct RateLimit {
    double per_second = 0;
    double burst = 0;
};

struct Config {
    std::string db_path = "var/chat.db";      // SQLite, unless db_url is set
    std::string db_url;                       // PostgreSQL: postgresql://... (no password in it)
    std::string journal_dir;                  // empty: db_path + ".journal"
    uint32_t max_payload = 64 * 1024;
    std::string bridge_user;                  // the bridge identity's username
    std::string bridge_password;              // read from plugin_opt_bridge_password_file
    std::vector<std::string> bridge_clients;  // the only client ids the bridge may log in with
    std::string operator_user;                // may read $SYS/# and nothing else; empty: none
    std::string operator_password;            // read from plugin_opt_operator_password_file
    int acl_refresh_ms = 200;                 // how often group/block/device changes are picked up
    int64_t max_pending = 10000;              // per-user cap on unacked entries
    RateLimit publish_limit{20, 200};         // publishes per user, over all their devices
    int refusals_before_kick = 100;           // rate-limited publishes in a row before a disconnect
    RateLimit connect_limit{0.2, 10};         // CONNECTs per client id
    RateLimit address_connect_limit{5, 100};  // CONNECTs per source address
    size_t max_user_properties = 8;           // per publish
    size_t max_user_properties_bytes = 1024;  // names and values of one publish together
    int64_t max_import_backlog = 64 << 20;    // bytes journaled, not yet in SQLite, held in memory
    int64_t call_ring_timeout_ms = 45'000;    // an offer unanswered this long is a missed call
    size_t max_calls = 10'000;                // call legs the broker tracks at once
    int64_t status_lifetime_ms = 86'400'000;  // a status update expires this long after posting
    log::Level log_level = log::Level::info;  // lines below it are not written
    int metrics_port = 0;                     // 127.0.0.1 port of /metrics and /healthz; 0: none
    int64_t max_import_lag_ms = 10000;        // /healthz fails when the import waits longer
    std::string node_id;                      // a cluster node's id; empty: a single node
    std::string node_address;                 // with node_id: where phones reach this node (host:port)
    int64_t lease_ms = 5000;                  // with node_id: a dead node's users move after this
};

// What storage::Database opens: the PostgreSQL URL when set, else the SQLite path.
std::string db_location(const Config& c);
// Where the inbox journal lives (a local folder whichever the database).
std::string journal_dir(const Config& c);

// Throws std::invalid_argument naming the bad option. The bridge identity is required: its
// secret comes from a file (read_secret_file), never from the config itself.
Config parse_config(const std::map<std::string, std::string>& options);

}  // namespace chat::broker
