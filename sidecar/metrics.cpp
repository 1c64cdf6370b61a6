// Rendering of the sidecar's counters as Prometheus text.
#include "metrics.h"

#include <sstream>

namespace chat::sidecar {
namespace {

struct CounterInfo {
    const char* name;
    const char* help;
};

constexpr CounterInfo counter_info[] = {
    {"chat_sidecar_sms_codes_sent_total", "Verification codes handed to the SMS sender."},
    {"chat_sidecar_registrations_total", "Successful verifications (devices issued)."},
    {"chat_sidecar_users_created_total", "Users created by a first verification."},
    {"chat_sidecar_verification_failures_total", "Verify calls refused for a wrong, expired or missing code."},
    {"chat_sidecar_rate_limited_total", "Requests refused with 429."},
    {"chat_sidecar_upload_bytes_total", "Media bytes received (simple and resumable uploads)."},
    {"chat_sidecar_media_stored_total", "New media blobs stored."},
    {"chat_sidecar_media_dedupe_hits_total", "Uploads whose content was already stored."},
};
static_assert(std::size(counter_info) == static_cast<size_t>(Counter::count_));

}  // namespace

void Metrics::request(const std::string& route, int status) {
    std::lock_guard lock(mutex_);
    ++requests_[{route, status}];
}

std::string Metrics::render() const {
    std::ostringstream out;
    out << "# HELP chat_sidecar_http_requests_total HTTP requests by route and status.\n"
        << "# TYPE chat_sidecar_http_requests_total counter\n";
    {
        std::lock_guard lock(mutex_);
        for (const auto& [key, n] : requests_) {
            out << "chat_sidecar_http_requests_total{route=\"" << key.first << "\",status=\"" << key.second << "\"} "
                << n << '\n';
        }
    }
    for (size_t i = 0; i < std::size(counter_info); ++i) {
        out << "# HELP " << counter_info[i].name << ' ' << counter_info[i].help << '\n'
            << "# TYPE " << counter_info[i].name << " counter\n"
            << counter_info[i].name << ' ' << counters_[i].load(std::memory_order_relaxed) << '\n';
    }
    return out.str();
}

}  // namespace chat::sidecar
