// SMS senders: outbox file for development, webhook for a real SMS gateway.
#include "sms.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace chat::sidecar {

void OutboxFileSender::send(const std::string& phone, const std::string& code) {
    std::lock_guard lock(mutex_);
    std::ofstream out(path_, std::ios::app);
    out << phone << ' ' << code << '\n';
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path_.string());
}

WebhookSender::WebhookSender(const std::string& url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) throw std::invalid_argument("webhook URL needs a scheme: " + url);
    auto path_start = url.find('/', scheme_end + 3);
    origin_ = url.substr(0, path_start);
    path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
}

void WebhookSender::send(const std::string& phone, const std::string& code) {
    httplib::Client client(origin_);
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    nlohmann::json body = {{"phone", phone}, {"code", code}};
    auto res = client.Post(path_, body.dump(), "application/json");
    if (!res) throw std::runtime_error("sms webhook unreachable: " + httplib::to_string(res.error()));
    if (res->status < 200 || res->status >= 300) {
        throw std::runtime_error("sms webhook answered " + std::to_string(res->status));
    }
}

}  // namespace chat::sidecar
