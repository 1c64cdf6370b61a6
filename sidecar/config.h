// Sidecar settings and their command-line flags.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace chat::sidecar {

struct RateLimit {
    int limit = 0;  // requests per window; 0 = unlimited
    int64_t window_ms = 10 * 60 * 1000;
};

struct SidecarConfig {
    std::string host = "127.0.0.1";
    int port = 8080;  // 0 = any free port
    std::filesystem::path data_dir = "var";
    std::filesystem::path db_path;  // empty = data_dir/chat.db
    std::string sms_webhook;        // empty = append to data_dir/sms-outbox.log
    int64_t max_media_bytes = 64ll * 1024 * 1024;
    int64_t max_json_bytes = 64 * 1024;
    int64_t code_ttl_ms = 10 * 60 * 1000;
    int code_attempts = 5;
    RateLimit register_per_phone{3, 10 * 60 * 1000};
    RateLimit register_per_address{20, 10 * 60 * 1000};
    RateLimit verify_per_address{30, 10 * 60 * 1000};
    int threads = 8;
    int read_timeout_s = 30;  // generous: a 2G link stalls for seconds mid-upload
    int64_t upload_ttl_ms = 24ll * 60 * 60 * 1000;  // resumable uploads older than this are removed
    int64_t sweep_interval_ms = 10 * 60 * 1000;

    std::filesystem::path database() const { return db_path.empty() ? data_dir / "chat.db" : db_path; }
};

// Parses flags (argv without the program name). Returns an error message on bad flags.
std::optional<std::string> parse_args(const std::vector<std::string>& args, SidecarConfig& config);
std::string usage();

}  // namespace chat::sidecar
