// Starts a real mosquitto with the chat plugin on a free loopback port, with a
// generated config and a temporary data folder; stops it on destruction.
#pragma once

#include "pg_cluster.h"
#include "process.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace chat::testing {

struct BrokerOptions {
    bool with_plugin = true;
    std::map<std::string, std::string> plugin_options;  // plugin_opt_* beyond the defaults
    std::string extra_config;                           // raw mosquitto.conf lines
    // Every packet in the log (a failing test prints it); benchmarks log as mosquitto.conf does.
    bool log_packets = true;
    // Bridge client ids the broker accepts (plugin_opt_bridge_clients).
    std::string bridge_clients = "chat-bridge-1,chat-bridge-2";
    // The loopback port; 0: a free one. A cluster node names its address in its options before
    // it starts, and keeps it across a crash and restart either way.
    int port = 0;
    // A database shared with other fixtures (a cluster's nodes: a PostgreSQL URL); empty: its own
    // TestDatabase. The journal stays in this fixture's own folder whichever.
    std::string database{};
    // The bridge identity's secret (a cluster's nodes share one); empty: a fresh one.
    std::string bridge_secret{};
};

class BrokerFixture {
public:
    explicit BrokerFixture(BrokerOptions options = {});
    ~BrokerFixture();

    int port() const { return port_; }
    const std::filesystem::path& data_dir() const { return dir_.path(); }
    // What Database and chatctl --db open: the SQLite file, or on the .pg run the PostgreSQL URL
    // (kept as a path so that tests written for SQLite pass it along unchanged).
    std::filesystem::path db_path() const { return db_location_; }
    const std::string& db_location() const { return db_location_; }
    bool postgres() const;
    std::string bridge_user() const { return "bridge"; }
    // A fresh secret per fixture, in a 0600 file as the set-up writes it.
    const std::string& bridge_password() const { return bridge_secret_; }
    std::filesystem::path bridge_secret_file() const { return dir_.path() / "bridge.secret"; }

    // Creates a user if needed and a new device; returns the device token.
    std::string add_device(const std::string& user, const std::string& device);
    // Runs chatctl against this broker's database; returns its exit code.
    int chatctl(const std::vector<std::string>& args, std::string* output = nullptr);

    void start();
    void crash();  // kill -9
    void stop();
    std::string log() const;
    double cpu_seconds() const { return broker_->cpu_seconds(); }
    int64_t anonymous_rss() const { return broker_->anonymous_rss(); }
    pid_t pid() const { return broker_->pid(); }  // for /proc figures and CPU pinning (benchmarks)

private:
    void write_config();
    BrokerOptions options_;
    TempDir dir_;
    std::unique_ptr<TestDatabase> own_db_;  // unless options_.database names a shared one
    std::string db_location_;
    int port_ = 0;
    std::string bridge_secret_;
    std::unique_ptr<Process> broker_;
};

// The lines of the repository's mosquitto.conf that set `keys`: tests of the shipped limits.
std::string shipped_config_lines(const std::vector<std::string>& keys);

// Environment entries a child needs to load an ASan-built plugin into an uninstrumented mosquitto.
std::vector<std::string> sanitizer_env();

}  // namespace chat::testing
