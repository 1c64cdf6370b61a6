// Sidecar settings and their command-line flags.
#pragma once

#include "common/log.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace chat::sidecar {

struct RateLimit {
    int64_t limit = 0;  // requests (or bytes) per window; 0 = unlimited
    int64_t window_ms = 10 * 60 * 1000;
};

struct SidecarConfig {
    std::string host = "127.0.0.1";
    int port = 8080;  // 0 = any free port
    std::filesystem::path data_dir = "var";
    std::filesystem::path db_path;  // empty = data_dir/chat.db
    std::string db_url;             // PostgreSQL instead of the SQLite file (--db-url)
    std::string sms_webhook;        // empty = append to data_dir/sms-outbox.log
    log::Level log_level = log::Level::info;
    int64_t max_media_bytes = 64ll * 1024 * 1024;
    int64_t max_json_bytes = 64 * 1024;
    int64_t code_ttl_ms = 10 * 60 * 1000;
    int code_attempts = 5;
    RateLimit register_per_phone{3, 10 * 60 * 1000};
    RateLimit register_per_address{20, 10 * 60 * 1000};
    RateLimit verify_per_address{30, 10 * 60 * 1000};
    // Per device: key and presence look-ups (a burst that enumerates who exists is refused).
    RateLimit lookups_per_device{300, 10 * 60 * 1000};
    // Contact discovery: numbers per request, and numbers per device (token) per day, so a client
    // maps an address book but cannot walk the directory.
    int discover_per_request = 256;
    RateLimit discover_per_device{1000, 24 * 60 * 60 * 1000};
    // Per user: media bytes uploaded (a resumable upload counts its Upload-Length when created),
    // uploads in flight at once (POST /v1/media and PATCH), groups created.
    RateLimit media_bytes_per_user{4ll * 1024 * 1024 * 1024, 24 * 60 * 60 * 1000};
    int uploads_per_user = 4;
    RateLimit groups_per_user{50, 24 * 60 * 60 * 1000};
    std::string metrics_token;  // empty = /metrics for loopback peers only
    // Connections: each one holds a worker thread while it is served, so a slow or idle peer
    // must let go soon, and one address may hold only part of the workers.
    int threads = 128;
    int header_timeout_s = 10;  // request line + headers (+ a JSON body) within this
    int idle_timeout_s = 5;     // keep-alive connection with no next request
    int read_timeout_s = 30;    // per read of a media body: generous, a 2G link stalls for seconds mid-upload
    int max_connections_per_address = 32;  // 0 = no cap (set 0 behind a reverse proxy)
    std::filesystem::path tls_cert, tls_key;  // both = HTTPS
    int64_t upload_ttl_ms = 24ll * 60 * 60 * 1000;  // resumable uploads older than this are removed
    int64_t sweep_interval_ms = 10 * 60 * 1000;
    // TURN relay (GET /v1/turn): the secret shared with coturn's static-auth-secret, read from
    // this file (empty: no relay, 503), the URIs clients are given, and the credentials' lifetime.
    std::string turn_secret_file;
    std::vector<std::string> turn_uris{"stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp"};
    int64_t turn_ttl_s = 24 * 3600;
    // --cluster: the verify answer and GET /v1/me name the user's home broker node.
    bool cluster = false;

    // What storage::Database opens: the PostgreSQL URL, else the SQLite path.
    std::string database() const {
        if (!db_url.empty()) return db_url;
        return (db_path.empty() ? data_dir / "chat.db" : db_path).string();
    }
};

// Parses flags (argv without the program name). Returns an error message on bad flags.
std::optional<std::string> parse_args(const std::vector<std::string>& args, SidecarConfig& config);
std::string usage();

}  // namespace chat::sidecar
