// The sidecar's metric names, help texts and labels, in one place.
#include "metrics.h"

namespace chat::sidecar {
namespace {

struct CounterInfo {
    const char* name;
    const char* help;
    const char* label;  // with its value, or null
    const char* value;
};

constexpr CounterInfo counter_info[] = {
    {"chat_sidecar_sms_codes_sent_total", "Verification codes handed to the SMS sender.", nullptr, nullptr},
    {"chat_sidecar_registrations_total", "Successful verifications (devices issued).", nullptr, nullptr},
    {"chat_sidecar_users_created_total", "Users created by a first verification.", nullptr, nullptr},
    {"chat_sidecar_auth_failures_total", "Requests refused for their credentials, by reason.", "reason",
     "verification_code"},
    {"chat_sidecar_refusals_total", "Requests refused, by reason.", "reason", "rate_limit"},
    {"chat_sidecar_upload_received_bytes_total", "Media bytes received (simple and resumable uploads).", nullptr,
     nullptr},
    {"chat_sidecar_media_uploads_total", "Completed media uploads, by result.", "result", "stored"},
    {"chat_sidecar_media_uploads_total", "Completed media uploads, by result.", "result", "deduplicated"},
};
static_assert(std::size(counter_info) == static_cast<size_t>(Counter::count_));

}  // namespace

Metrics::Metrics() {
    for (size_t i = 0; i < std::size(counter_info); ++i) {
        const auto& info = counter_info[i];
        metrics::Labels labels;
        if (info.label) labels.emplace_back(info.label, info.value);
        counters_[i] = &registry_.counter(info.name, info.help, labels);
    }
}

void Metrics::request(const std::string& route, int status) {
    registry_
        .counter("chat_sidecar_http_requests_total", "HTTP requests by route and status.",
                 {{"route", route}, {"status", std::to_string(status)}})
        .inc();
}

}  // namespace chat::sidecar
