// ClusterFixture: N nodes over one PostgreSQL database, bridges with --cluster, crash and restart.
#include "cluster_fixture.h"

#include "common/identity.h"

#include <cstdio>
#include <stdexcept>

namespace chat::testing {
namespace {

// The shared database's stand-in path; throws unless this run has PostgreSQL, which the nodes
// need to share one store.
std::filesystem::path postgres_required(const std::filesystem::path& dir) {
    if (!testing_postgres()) {
        throw std::runtime_error("a cluster needs PostgreSQL: run with CHAT_TEST_DB=postgres (CTest's .pg runs do)");
    }
    return dir / "unused.db";
}

std::string bridge_client(size_t i) { return "chat-bridge-" + std::to_string(i + 1); }

std::string tail(const std::string& text, size_t bytes) {
    return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

}  // namespace

ClusterFixture::ClusterFixture(ClusterOptions options)
    : options_(std::move(options)), db_(postgres_required(dir_.path())) {
    database_ = std::make_unique<storage::Database>(db_.location());
    cluster_ = std::make_unique<storage::Cluster>(*database_);
    std::string bridge_clients = "chat-bridge-1,chat-bridge-2";
    for (size_t i = 2; i < static_cast<size_t>(options_.bridges); ++i) bridge_clients += "," + bridge_client(i);
    std::string secret;
    for (int n = 1; n <= options_.nodes; ++n) {
        std::string id = "n" + std::to_string(n);
        BrokerOptions o;
        o.port = free_port();
        o.database = db_.location();
        o.bridge_secret = secret;  // the first node makes it, the others share it
        o.bridge_clients = bridge_clients;
        o.log_packets = options_.log_packets;
        o.plugin_options = options_.plugin_options;
        o.plugin_options["node_id"] = id;
        o.plugin_options["node_address"] = "127.0.0.1:" + std::to_string(o.port);
        o.plugin_options["lease_ms"] = std::to_string(options_.lease_ms);
        auto node = std::make_unique<BrokerFixture>(o);
        secret = node->bridge_password();
        nodes_.emplace(id, std::move(node));
    }
    for (const auto& id : node_ids()) wait_live(id);
    for (size_t i = 0; i < static_cast<size_t>(options_.bridges); ++i) {
        bridges_.push_back(
            std::make_unique<BridgeProcess>(ClusterBridge{}, *nodes_.at("n1"), bridge_client(i), options_.bridge_args));
        for (const auto& id : node_ids()) wait_bridge_login(id, bridge_client(i), 0);
    }
}

ClusterFixture::~ClusterFixture() {
    // Bridges first: a bridge outliving its nodes only logs reconnect attempts.
    for (auto& b : bridges_) b->stop();
    for (auto& [id, node] : nodes_) node->stop();
}

std::vector<std::string> ClusterFixture::node_ids() const {
    std::vector<std::string> ids;
    for (int n = 1; n <= options_.nodes; ++n) ids.push_back("n" + std::to_string(n));
    return ids;
}

BrokerFixture& ClusterFixture::node(const std::string& id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) throw std::invalid_argument("no node " + id);
    return *it->second;
}

int ClusterFixture::chatctl(const std::vector<std::string>& args, std::string* output) {
    return nodes_.begin()->second->chatctl(args, output);
}

std::string ClusterFixture::add_device(const std::string& user, const std::string& device) {
    std::string token = nodes_.begin()->second->add_device(user, device);
    settle_home(user);
    return token;
}

ClusterDevice ClusterFixture::add_user_on(const std::string& node_id, const std::string& device) {
    node(node_id);  // throws for an unknown node
    for (int tries = 0; tries < 200; ++tries) {
        char user[16];
        std::snprintf(user, sizeof user, "1557%06d", ++next_user_);
        if (chatctl({"user", "add", user}) != 0) throw std::runtime_error(std::string("cannot add user ") + user);
        if (settle_home(user) == node_id) return ClusterDevice{user, device, add_device(user, device)};
    }
    throw std::runtime_error("no user id landed on " + node_id + " in 200 tries");
}

std::string ClusterFixture::settle_home(const std::string& user) {
    auto home = cluster_->settle_home(user, now_ms());
    if (!home) throw std::runtime_error("settle_home: no user " + user);
    if (home->node.empty() || !home->live) throw std::runtime_error("settle_home: no live node for " + user);
    return home->node;
}

bool ClusterFixture::live(const std::string& id) {
    for (const auto& n : cluster_->live_nodes(now_ms())) {
        if (n.id == id) return true;
    }
    return false;
}

void ClusterFixture::wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                              const std::string& what) const {
    if (!eventually(done, timeout)) throw std::runtime_error("timed out waiting for " + what + "\n" + logs());
}

void ClusterFixture::wait_live(const std::string& id) {
    wait_for([&] { return live(id); }, std::chrono::seconds(15), "node " + id + " holding its lease");
}

void ClusterFixture::wait_lease_expired(const std::string& id) {
    wait_for([&] { return !live(id); }, std::chrono::milliseconds(options_.lease_ms) + std::chrono::seconds(15),
             "the lease of " + id + " expiring");
}

void ClusterFixture::crash(const std::string& id) { node(id).crash(); }

void ClusterFixture::restart(const std::string& id) {
    size_t offset = node(id).log().size();
    node(id).start();
    wait_live(id);
    for (size_t i = 0; i < bridges_.size(); ++i) wait_bridge_login(id, bridge_client(i), offset);
}

void ClusterFixture::wait_bridge_login(const std::string& id, const std::string& client_id, size_t offset) {
    // mosquitto's notice "New client connected from ADDR as CLIENT (p5, ...)"; with packets
    // logged, also its SUBSCRIBE, so that a test's first publish finds the bridge's subscriptions.
    const std::string login = " as " + client_id + " (";
    const std::string subscribed = "Received SUBSCRIBE from " + client_id;
    wait_for(
        [&] {
            std::string text = node(id).log();
            auto at = text.find(login, offset);
            if (at == std::string::npos) return false;
            return !options_.log_packets || text.find(subscribed, at) != std::string::npos;
        },
        std::chrono::seconds(30), client_id + " logging in to " + id);
}

std::string ClusterFixture::logs() const {
    std::string out;
    for (const auto& [id, node] : nodes_) out += "--- node " + id + " log:\n" + tail(node->log(), 6000) + "\n";
    for (size_t i = 0; i < bridges_.size(); ++i) {
        out += "--- " + bridge_client(i) + " log:\n" + tail(bridges_[i]->log(), 6000) + "\n";
    }
    return out;
}

}  // namespace chat::testing
