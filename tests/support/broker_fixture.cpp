// BrokerFixture: generated mosquitto.conf, data folder, start/crash/stop.
#include "broker_fixture.h"

#include "common/identity.h"
#include "kept_logs.h"
#include "storage/db.h"
#include "tools/operator_cli.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace chat::testing {

std::vector<std::string> sanitizer_env() {
    std::string runtimes = CHAT_ASAN_RUNTIME;
    if (runtimes.empty()) return {};
    // mosquitto's own allocations are not ours to judge: leak reports off.
    return {"LD_PRELOAD=" + runtimes, "ASAN_OPTIONS=detect_leaks=0"};
}

std::string shipped_config_lines(const std::vector<std::string>& keys) {
    std::ifstream conf(CHAT_SOURCE_DIR "/mosquitto.conf");
    std::string out, line;
    while (std::getline(conf, line)) {
        for (const auto& key : keys) {
            if (line.rfind(key + " ", 0) == 0) out += line + "\n";
        }
    }
    return out;
}

BrokerFixture::BrokerFixture(BrokerOptions options) : options_(std::move(options)) {
    if (options_.database.empty()) {
        own_db_ = std::make_unique<TestDatabase>(dir_.path() / "chat.db");
        db_location_ = own_db_->location();
    } else {
        db_location_ = options_.database;
    }
    port_ = options_.port != 0 ? options_.port : free_port();
    bridge_secret_ = options_.bridge_secret.empty() ? new_device_token() : options_.bridge_secret;
    remember_secret(bridge_secret_);
    {
        std::ofstream secret(bridge_secret_file());
        secret << bridge_secret_ << "\n";
    }
    std::filesystem::permissions(bridge_secret_file(), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    write_config();
    start();
}

BrokerFixture::~BrokerFixture() { stop(); }

bool BrokerFixture::postgres() const { return storage::backend_of(db_location_) == storage::Backend::postgres; }

void BrokerFixture::write_config() {
    std::ofstream conf(dir_.path() / "mosquitto.conf");
    conf << "listener " << port_ << " 127.0.0.1\n"
         << "set_tcp_nodelay true\n"
         << "persistence false\n"
         << "max_queued_messages 100000\n";
    conf << (options_.log_packets ? "log_type all\n"
                                  : "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n");
    if (::geteuid() == 0) conf << "user root\n";
    if (options_.with_plugin) {
        conf << "allow_anonymous false\n"
             << "plugin " << CHAT_PLUGIN_PATH << "\n"
             << "plugin_opt_db_path " << (dir_.path() / "chat.db").string() << "\n"  // also names the journal
             << "plugin_opt_bridge_user " << bridge_user() << "\n"
             << "plugin_opt_bridge_password_file " << bridge_secret_file().string() << "\n"
             << "plugin_opt_bridge_clients " << options_.bridge_clients << "\n";
        if (postgres()) conf << "plugin_opt_db_url " << db_location_ << "\n";
        // Tests and benchmarks connect and publish from one address far above a phone's pace;
        // a test of the limits themselves sets its own values.
        std::map<std::string, std::string> plugin_options{{"publish_rate", "1000000/1000000"},
                                                          {"connect_rate", "1000/10000"},
                                                          {"address_connect_rate", "100000/100000"}};
        for (const auto& [k, v] : options_.plugin_options) plugin_options[k] = v;
        for (const auto& [k, v] : plugin_options) conf << "plugin_opt_" << k << " " << v << "\n";
    } else {
        conf << "allow_anonymous true\n";
    }
    conf << options_.extra_config << "\n";
}

void BrokerFixture::start() {
    broker_ = std::make_unique<Process>(
        std::vector<std::string>{"mosquitto", "-c", (dir_.path() / "mosquitto.conf").string()},
        dir_.path() / "mosquitto.log", sanitizer_env());
    if (!wait_for_port(port_, std::chrono::seconds(10))) {
        throw std::runtime_error("mosquitto did not start:\n" + log());
    }
}

void BrokerFixture::crash() {
    if (broker_) broker_->kill_hard();
}

void BrokerFixture::stop() {
    if (broker_) broker_->stop();
}

std::string BrokerFixture::log() const { return read_file(dir_.path() / "mosquitto.log"); }

int BrokerFixture::chatctl(const std::vector<std::string>& args, std::string* output) {
    std::vector<std::string> all{"--db", db_path().string()};
    all.insert(all.end(), args.begin(), args.end());
    std::ostringstream out, err;
    int rc = chat::tools::run_operator_cli(all, out, err);
    if (output) *output = out.str() + err.str();
    return rc;
}

std::string BrokerFixture::add_device(const std::string& user, const std::string& device) {
    std::string out;
    chatctl({"user", "add", user});
    if (chatctl({"device", "add", user, device}, &out) != 0) throw std::runtime_error("device add failed: " + out);
    auto pos = out.find("token ");
    if (pos == std::string::npos) throw std::runtime_error("no token in: " + out);
    std::string token = out.substr(pos + 6);
    token = token.substr(0, token.find('\n'));
    remember_secret(token);
    return token;
}

}  // namespace chat::testing
