// Test harness for the HTTP sidecar: an in-process server on a free loopback port over a temp
// data folder (optionally sharing a BrokerFixture's database), plus HTTP helpers.
#pragma once

#include "sidecar/server.h"
#include "support/pg_cluster.h"
#include "support/process.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace chat::testing {

struct Device {
    std::string user, device, token, client_id;
};

inline sidecar::SidecarConfig test_config(const std::filesystem::path& data_dir,
                                          const std::filesystem::path& db = {}) {
    sidecar::SidecarConfig c;
    c.port = 0;
    c.data_dir = data_dir;
    c.db_path = db;
    c.threads = 4;
    return c;
}

class SidecarHarness {
public:
    // `tweak` adjusts the config (limits, ttl) before the server starts.
    explicit SidecarHarness(const std::filesystem::path& db = {},
                            const std::function<void(sidecar::SidecarConfig&)>& tweak = {})
        : config_(test_config(dir_.path() / "data", db.empty() ? std::filesystem::path(own_db_.location()) : db)) {
        if (tweak) tweak(config_);
        server_ = std::make_unique<sidecar::Sidecar>(config_);
        port_ = server_->start();
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
        client_->set_read_timeout(10, 0);
    }
    ~SidecarHarness() { server_->stop(); }

    int port() const { return port_; }
    httplib::Client& http() { return *client_; }
    const std::filesystem::path& data_dir() const { return config_.data_dir; }
    std::filesystem::path db_path() const { return config_.database(); }  // or the PostgreSQL URL
    sidecar::Sidecar& server() { return *server_; }

    // The last code the development SMS sender wrote for `phone` (from sms-outbox.log).
    std::optional<std::string> code_for(const std::string& phone) const {
        std::ifstream in(config_.data_dir / "sms-outbox.log");
        std::string p, code;
        std::optional<std::string> last;
        while (in >> p >> code) {
            if (p == phone) last = code;
        }
        return last;
    }

    httplib::Result post_json(const std::string& path, const nlohmann::json& body, const std::string& token = {}) {
        return http().Post(path.c_str(), auth(token), body.dump(), "application/json");
    }

    // Full register + verify over HTTP, reading the code from the SMS outbox.
    Device register_device(const std::string& phone) {
        auto r = post_json("/v1/register", {{"phone", phone}});
        if (!r || r->status != 202) throw std::runtime_error("register failed");
        auto code = code_for(phone);
        if (!code) throw std::runtime_error("no code in the outbox");
        auto v = post_json("/v1/verify", {{"phone", phone}, {"code", *code}});
        if (!v || v->status != 200) throw std::runtime_error("verify failed: " + (v ? v->body : std::string("no answer")));
        auto j = nlohmann::json::parse(v->body);
        return Device{j["user"], j["device"], j["token"], j["client_id"]};
    }

    static httplib::Headers auth(const std::string& token) {
        if (token.empty()) return {};
        return {{"Authorization", "Bearer " + token}};
    }

private:
    TempDir dir_;
    TestDatabase own_db_{dir_.path() / "data" / "chat.db"};  // used unless given a database
    sidecar::SidecarConfig config_;
    std::unique_ptr<sidecar::Sidecar> server_;
    int port_ = 0;
    std::unique_ptr<httplib::Client> client_;
};

inline nlohmann::json body_of(const httplib::Result& r) { return nlohmann::json::parse(r->body); }

}  // namespace chat::testing
