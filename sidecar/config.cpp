// Command-line flags of chat-sidecar.
#include "config.h"

#include "storage/db.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <map>

namespace chat::sidecar {
namespace {

bool to_int(const std::string& s, int64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && out >= 0;
}

// 1..3600 seconds.
bool seconds(const std::string& s, int& out) {
    int64_t n;
    return to_int(s, n) && n > 0 && n <= 3600 && (out = int(n), true);
}

// A non-negative count: a larger number than int64_t holds is refused by to_int, not wrapped.
bool to_count(const std::string& s, int64_t& out) { return to_int(s, out); }

// `n` units of `unit_ms` milliseconds, refused when that overflows.
bool to_ms(int64_t n, int64_t unit_ms, int64_t& out) {
    if (n > std::numeric_limits<int64_t>::max() / unit_ms) return false;
    out = n * unit_ms;
    return true;
}

}  // namespace

std::string usage() {
    return "usage: chat-sidecar [--host 127.0.0.1] [--port 8080|0] [--data-dir var] [--db PATH | --db-url postgresql://...]\n"
           "                    [--sms-webhook http://host:port/path] [--max-media-bytes N]\n"
           "                    [--register-per-phone N] [--register-per-address N] [--verify-per-address N]\n"
           "                    [--rate-window-s N] [--threads N] [--upload-ttl-h N]\n"
           "                    [--tls-cert FILE --tls-key FILE] [--metrics-token T]\n"
           "                    [--header-timeout-s N] [--idle-timeout-s N] [--max-connections-per-address N]\n"
           "                    [--lookups-per-device N] [--lookup-window-s N] [--media-bytes-per-day N]\n"
           "                    [--uploads-per-user N] [--groups-per-day N] [--log-level debug|info|notice|warning|error]\n"
           "                    [--turn-secret-file FILE] [--turn-uris URI,URI] [--turn-ttl-s N]\n"
           "                    [--discover-per-request N] [--discover-per-day N] [--cluster]\n"
           "  --port 0 picks a free port and prints it; limits of 0 disable the limit.\n"
           "  --cluster (no value): answer each user's home broker node (several nodes, one database).\n";
}

std::optional<std::string> parse_args(const std::vector<std::string>& args, SidecarConfig& c) {
    const std::map<std::string, std::function<bool(const std::string&)>> flags = {
        {"--host", [&](const std::string& v) { c.host = v; return !v.empty(); }},
        {"--data-dir", [&](const std::string& v) { c.data_dir = v; return !v.empty(); }},
        {"--db", [&](const std::string& v) { c.db_path = v; return !v.empty(); }},
        {"--db-url", [&](const std::string& v) {
             try {
                 storage::check_db_url(v);  // a postgresql:// URL with no password in it
             } catch (const std::invalid_argument&) {
                 return false;
             }
             c.db_url = v;
             return true;
         }},
        {"--sms-webhook", [&](const std::string& v) { c.sms_webhook = v; return v.rfind("http", 0) == 0; }},
        {"--port", [&](const std::string& v) { int64_t n; return to_int(v, n) && n < 65536 && (c.port = int(n), true); }},
        {"--max-media-bytes", [&](const std::string& v) { return to_int(v, c.max_media_bytes) && c.max_media_bytes > 0; }},
        {"--register-per-phone", [&](const std::string& v) { return to_count(v, c.register_per_phone.limit); }},
        {"--register-per-address", [&](const std::string& v) { return to_count(v, c.register_per_address.limit); }},
        {"--verify-per-address", [&](const std::string& v) { return to_count(v, c.verify_per_address.limit); }},
        {"--rate-window-s", [&](const std::string& v) {
             int64_t n, ms;
             if (!to_int(v, n) || n == 0 || !to_ms(n, 1000, ms)) return false;
             c.register_per_phone.window_ms = c.register_per_address.window_ms = c.verify_per_address.window_ms = ms;
             return true;
         }},
        {"--upload-ttl-h", [&](const std::string& v) {
             int64_t n;
             return to_int(v, n) && n > 0 && to_ms(n, 60 * 60 * 1000, c.upload_ttl_ms);
         }},
        {"--threads", [&](const std::string& v) { int64_t n; return to_int(v, n) && n > 0 && n <= 1024 && (c.threads = int(n), true); }},
        {"--tls-cert", [&](const std::string& v) { c.tls_cert = v; return !v.empty(); }},
        {"--tls-key", [&](const std::string& v) { c.tls_key = v; return !v.empty(); }},
        {"--metrics-token", [&](const std::string& v) { c.metrics_token = v; return !v.empty(); }},
        {"--log-level", [&](const std::string& v) { auto l = log::parse_level(v); return l && (c.log_level = *l, true); }},
        {"--header-timeout-s", [&](const std::string& v) { return seconds(v, c.header_timeout_s); }},
        {"--idle-timeout-s", [&](const std::string& v) { return seconds(v, c.idle_timeout_s); }},
        {"--max-connections-per-address", [&](const std::string& v) {
             int64_t n;
             return to_int(v, n) && n <= 100000 && (c.max_connections_per_address = int(n), true);
         }},
        {"--lookups-per-device", [&](const std::string& v) { return to_int(v, c.lookups_per_device.limit); }},
        {"--lookup-window-s", [&](const std::string& v) {
             int64_t n;
             return to_int(v, n) && n > 0 && (c.lookups_per_device.window_ms = n * 1000, true);
         }},
        {"--media-bytes-per-day", [&](const std::string& v) { return to_int(v, c.media_bytes_per_user.limit); }},
        {"--uploads-per-user", [&](const std::string& v) { int64_t n; return to_int(v, n) && n <= 1000 && (c.uploads_per_user = int(n), true); }},
        {"--groups-per-day", [&](const std::string& v) { return to_int(v, c.groups_per_user.limit); }},
        {"--turn-secret-file", [&](const std::string& v) { c.turn_secret_file = v; return !v.empty(); }},
        {"--turn-uris", [&](const std::string& v) {
             c.turn_uris.clear();
             for (size_t start = 0; start <= v.size();) {
                 size_t comma = std::min(v.find(',', start), v.size());
                 if (comma > start) c.turn_uris.push_back(v.substr(start, comma - start));
                 start = comma + 1;
             }
             return !c.turn_uris.empty();
         }},
        {"--turn-ttl-s", [&](const std::string& v) {
             int64_t n;
             return to_int(v, n) && n > 0 && n <= 7 * 86400 && (c.turn_ttl_s = n, true);
         }},
        {"--discover-per-request", [&](const std::string& v) {
             int64_t n;
             return to_int(v, n) && n >= 1 && n <= 100000 && (c.discover_per_request = int(n), true);
         }},
        {"--discover-per-day", [&](const std::string& v) { return to_int(v, c.discover_per_device.limit); }},
    };
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--cluster") {  // the one flag without a value
            c.cluster = true;
            continue;
        }
        auto it = flags.find(args[i]);
        if (it == flags.end()) return "unknown flag " + args[i];
        if (i + 1 >= args.size()) return "missing value for " + args[i];
        if (!it->second(args[i + 1])) return "bad value for " + args[i] + ": " + args[i + 1];
        ++i;  // its value
    }
    if (c.tls_cert.empty() != c.tls_key.empty()) return "--tls-cert and --tls-key go together";
    return std::nullopt;
}

}  // namespace chat::sidecar
