// Several broker nodes on loopback for the cluster tests and benchmark: one throwaway PostgreSQL
// database, mosquitto+plugin nodes n1..nN sharing it, bridges with --cluster; crash and restart.
#pragma once

#include "bridge_process.h"
#include "broker_fixture.h"
#include "pg_cluster.h"
#include "process.h"
#include "storage/cluster.h"
#include "storage/db.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chat::testing {

struct ClusterOptions {
    int nodes = 3;
    int bridges = 1;       // client ids chat-bridge-1, chat-bridge-2, ...
    int64_t lease_ms = 1500;  // short, so that a test's rehome waits about as long
    std::map<std::string, std::string> plugin_options;  // plugin_opt_* on every node
    std::vector<std::string> bridge_args;               // extra flags of every bridge
    bool log_packets = true;                            // false for benchmarks
};

// A user's device as chatctl made it.
struct ClusterDevice {
    std::string user, device, token;
    std::string client_id() const { return user + "/" + device; }
};

// Starts everything in the constructor (nodes first, every node's lease running, then the
// bridges, each connected to every node) and stops it all in the destructor. Needs PostgreSQL:
// the test run's cluster (CTest's `.pg` environment, CHAT_TEST_DB=postgres[:DIR]). Used from the
// test's thread only (it holds one database connection of its own).
class ClusterFixture {
public:
    explicit ClusterFixture(ClusterOptions options = {});
    ~ClusterFixture();
    ClusterFixture(const ClusterFixture&) = delete;
    ClusterFixture& operator=(const ClusterFixture&) = delete;

    const std::string& db_location() const { return db_.location(); }
    std::vector<std::string> node_ids() const;  // n1..nN
    BrokerFixture& node(const std::string& id);
    std::string address(const std::string& id) { return "127.0.0.1:" + std::to_string(node(id).port()); }
    size_t bridge_count() const { return bridges_.size(); }
    BridgeProcess& bridge(size_t i) { return *bridges_.at(i); }
    // A database connection of the test's own, and the cluster's state through it.
    storage::Database& database() { return *database_; }
    storage::Cluster& cluster() { return *cluster_; }

    // Runs chatctl against the shared database; returns its exit code.
    int chatctl(const std::vector<std::string>& args, std::string* output = nullptr);
    // Creates the user if needed and a new device, settles the user's home; returns the token.
    std::string add_device(const std::string& user, const std::string& device);
    // A new user homed on `node`, with device `device`: user ids are tried in turn (users that
    // land elsewhere stay, unused) until the home assignment puts one there.
    ClusterDevice add_user_on(const std::string& node, const std::string& device = "d1");

    // The user's home node now: assigned, or moved off a node whose lease has expired
    // (storage::Cluster::settle_home, what GET /v1/me does). Throws for an unknown user.
    std::string settle_home(const std::string& user);
    // Where a device of `user` connects: its home node's port (settled first).
    int home_port(const std::string& user) { return node(settle_home(user)).port(); }

    void crash(const std::string& id);  // kill -9
    // Starts a crashed or stopped node again on its port, folder and journal; returns once its
    // lease runs again and every bridge has logged in to it.
    void restart(const std::string& id);
    // Waits until `id`'s lease has expired (its users may move), about lease_ms after a crash.
    void wait_lease_expired(const std::string& id);
    bool live(const std::string& id);

    // The end of every node's and bridge's log, for a failing test's report.
    std::string logs() const;

private:
    // Polls `done` every 20 ms; throws after `timeout`, naming `what`, with the logs.
    void wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout, const std::string& what) const;
    void wait_live(const std::string& id);
    // Waits until bridge client `client_id` has logged in to `id` after byte `offset` of its log.
    void wait_bridge_login(const std::string& id, const std::string& client_id, size_t offset);

    ClusterOptions options_;
    TempDir dir_;
    TestDatabase db_{dir_.path() / "unused.db"};
    std::unique_ptr<storage::Database> database_;
    std::unique_ptr<storage::Cluster> cluster_;
    std::map<std::string, std::unique_ptr<BrokerFixture>> nodes_;
    std::vector<std::unique_ptr<BridgeProcess>> bridges_;
    int next_user_ = 0;
};

}  // namespace chat::testing
