// Pluggable SMS senders for verification codes: a development outbox file or an HTTP webhook.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace chat::sidecar {

class SmsSender {
public:
    virtual ~SmsSender() = default;
    // Delivers `code` to `phone` (E.164 with '+'); throws std::runtime_error when it cannot.
    virtual void send(const std::string& phone, const std::string& code) = 0;
};

// Appends "{phone} {code}" lines to a file (default: sms-outbox.log in the data folder). Thread-safe.
class OutboxFileSender : public SmsSender {
public:
    explicit OutboxFileSender(std::filesystem::path path) : path_(std::move(path)) {}
    void send(const std::string& phone, const std::string& code) override;

private:
    std::filesystem::path path_;
    std::mutex mutex_;
};

// POSTs {"phone","code"} as JSON to a URL such as http://127.0.0.1:9000/sms; any non-2xx answer is a failure.
// Thread-safe: each send uses its own connection.
class WebhookSender : public SmsSender {
public:
    explicit WebhookSender(const std::string& url);
    void send(const std::string& phone, const std::string& code) override;

private:
    std::string origin_;  // scheme://host:port
    std::string path_;
};

}  // namespace chat::sidecar
