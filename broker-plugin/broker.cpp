// ChatBroker sessions: authentication, ACL decisions, permission refresh, disconnects.
#include "broker.h"

#include "common/identity.h"

#include <algorithm>

namespace chat::broker {
namespace {

// Idle rate-limit buckets are forgotten this often: each pass walks every bucket.
constexpr int64_t prune_interval_ms = 1000;
// Cluster: homes a node keeps in memory before it starts over.
constexpr size_t max_cached_homes = 1'000'000;

}  // namespace

ChatBroker::ChatBroker(Config config, std::function<int64_t()> clock)
    : metrics_(registry_),
      config_(std::move(config)),
      in_use_(config_.db_path),
      clock_(std::move(clock)),
      db_(db_location(config_)),
      accounts_(db_),
      groups_(db_),
      blocks_(db_),
      lists_(db_),
      acl_changes_(db_),
      checkpointer_(db_location(config_), std::chrono::milliseconds(100)),
      policy_(db_),
      cluster_(db_),
      lease_(config_.node_id.empty() ? nullptr
                                     : std::make_unique<NodeLease>(db_location(config_), config_.node_id,
                                                                   config_.node_address, config_.lease_ms, clock_)),
      log_(db_, db_location(config_), journal_dir(config_), config_.node_id),
      publish_limits_(config_.publish_limit),
      connect_limits_(config_.connect_limit),
      address_connect_limits_(config_.address_connect_limit),
      calls_(CallLimits{config_.max_calls, 32, config_.call_ring_timeout_ms, 4 * 3'600'000}) {
    // The broker thread only appends to the WAL; checkpointer_ copies it back off-thread.
    db_.disable_auto_checkpoint();
    db_.retry_busy_quickly();
    bridge_password_hash_ = hash_token(config_.bridge_password);
    if (!config_.operator_password.empty()) operator_password_hash_ = hash_token(config_.operator_password);
    // Devices online here before a crash are not any more; on other nodes they may be.
    if (clustered()) {
        cluster_.clear_online(config_.node_id);
    } else {
        accounts_.clear_online();
    }
    acl_change_id_ = acl_changes_.latest_id();
    metrics_.expose_storage(log_, checkpointer_);
}

// Homes cached here stay exact: a user moves only off a node whose lease has expired (this one
// then takes nothing until it has re-read the moves), and every move records an acl change.
ChatBroker::Where ChatBroker::where(const std::string& user) {
    if (!clustered()) return Where::here;
    if (auto it = homed_here_.find(user); it != homed_here_.end()) return it->second ? Where::here : Where::elsewhere;
    auto home = cluster_.home_of(user, clock_());
    if (!home) return Where::nobody;
    // Bounded: forgetting costs one read per user when next needed.
    if (homed_here_.size() >= max_cached_homes) homed_here_.clear();
    bool here = home->node == config_.node_id;
    homed_here_.emplace(user, here);
    return here ? Where::here : Where::elsewhere;
}

bool ChatBroker::node_open() const {
    return !clustered() || (lease_->holds(clock_()) && lease_->lapses() == lapses_handled_);
}

void ChatBroker::rehome(const std::string& user) {
    homed_here_.erase(user);
    if (where(user) == Where::here) return;
    log_.forget(user);
    auto it = users_.find(user);
    if (it == users_.end()) return;
    for (const auto& [device, key] : it->second.devices) {
        auto session = sessions_.find(key);
        if (session == sessions_.end()) continue;
        kicks_.push_back(client_id_of(session->second));
        metrics_.kicked(Kick::moved);
    }
}

std::optional<std::string> ChatBroker::health() const {
    const auto& importer = log_.importer();
    if (importer.stats().failing) return "the import into SQLite is failing (see the broker's log)";
    if (int64_t lag = importer.lag_ms(); lag > config_.max_import_lag_ms) {
        return "the import into SQLite is " + std::to_string(lag) + " ms behind";
    }
    return std::nullopt;
}

AuthResult ChatBroker::authenticate(ClientKey client, std::string_view client_id, std::string_view username,
                                    std::string_view password, std::string_view address) {
    int64_t now = clock_();
    // Reconnect storms are damped before any work: per client id, and per source address.
    if (!connect_limits_.allow(client_id, now) || !address_connect_limits_.allow(address, now)) {
        metrics_.connects_throttled.inc();
        return AuthResult::unavailable;
    }
    if (!config_.operator_user.empty() && username == config_.operator_user) {
        return authenticate_operator(client, client_id, password);
    }
    if (username == config_.bridge_user) {
        bool known_id = std::find(config_.bridge_clients.begin(), config_.bridge_clients.end(), client_id) !=
                        config_.bridge_clients.end();
        if (!known_id || !token_matches(password, bridge_password_hash_)) {
            metrics_.auth_failed(AuthFailure::bridge_identity);
            return AuthResult::refused;
        }
        if (auto old = sessions_.find(client); old != sessions_.end()) drop_session(old);
        Session s{config_.bridge_user, std::string(client_id)};
        s.bridge = true;
        sessions_.emplace(client, std::move(s));
        bridge_clients_.emplace_back(client_id);
        metrics_.connects_accepted.inc();
        return AuthResult::accepted;
    }
    size_t slash = client_id.find('/');
    std::string user(client_id.substr(0, slash));
    std::string device(slash == std::string_view::npos ? std::string_view() : client_id.substr(slash + 1));
    if (slash == std::string_view::npos || user != username || !is_user_id(user) || !is_device_id(device)) {
        metrics_.auth_failed(AuthFailure::bad_client_id);
        return AuthResult::refused;
    }
    // The one SQLite read of a CONNECT (two more for a user's permissions when none of their
    // devices is connected yet); its write, the online flag, goes through the journal.
    auto row = accounts_.find_device(user, device);
    if (!row || row->revoked || !token_matches(password, row->token_hash)) {
        metrics_.auth_failed(!row ? AuthFailure::unknown_device
                                  : row->revoked ? AuthFailure::revoked_device : AuthFailure::wrong_token);
        return AuthResult::refused;
    }
    // A cluster node takes only its own users, and nobody while fenced: closed unanswered, the
    // phone asks the sidecar for its home (docs/PROTOCOL.md "Cluster").
    // A user cached as homed elsewhere is read again: it may have moved here a moment ago, before
    // the acl change that says so was read (a CONNECT reads the database anyway).
    if (auto cached = homed_here_.find(user); cached != homed_here_.end() && !cached->second) homed_here_.erase(cached);
    if (!node_open() || where(user) != Where::here) {
        metrics_.connects_elsewhere.inc();
        return AuthResult::unavailable;
    }
    // A closed session may still hold this handle until the tick: the new one replaces it.
    if (auto old = sessions_.find(client); old != sessions_.end()) drop_session(old);
    // A user none of whose devices is connected yet gets their permissions read now, before
    // anything is written, so a failed read leaves nothing behind.
    std::unique_ptr<Permissions> perms;
    bool first_device = !users_.contains(user);
    if (first_device) perms = load_permissions(user);
    // A lean device only connects: the server starts its replay when it is behind (read now,
    // like the permissions, before anything changes).
    Encoding encoding = encoding_of(row->encoding);
    bool replay = encoding == Encoding::lean && row->cursor < log_.last_seq(user);
    log_.device_online(user, device);

    auto [it, fresh] = users_.try_emplace(std::move(user));
    if (fresh) it->second.perms = std::move(perms);
    // The same client id again takes the device over: still one connected device.
    if (it->second.devices.find(device) == it->second.devices.end()) metrics_.connected_devices.add(1);
    it->second.devices[device] = client;
    metrics_.connects_accepted.inc();
    ++it->second.sessions;
    Session s{it->first, std::move(device), &it->second};
    s.encoding = encoding;
    if (replay) publishes_.push_back(sync_forward(it->first, s.device, row->cursor));
    sessions_.emplace(client, std::move(s));
    return AuthResult::accepted;
}

AuthResult ChatBroker::authenticate_operator(ClientKey client, std::string_view client_id, std::string_view password) {
    // Any client id but a device's ({user}/{device}) or a bridge's, which it would take over.
    bool taken = client_id.find('/') != std::string_view::npos ||
                 std::find(config_.bridge_clients.begin(), config_.bridge_clients.end(), client_id) !=
                     config_.bridge_clients.end();
    if (taken || client_id.empty() || !token_matches(password, operator_password_hash_)) {
        metrics_.auth_failed(AuthFailure::operator_identity);
        return AuthResult::refused;
    }
    if (auto old = sessions_.find(client); old != sessions_.end()) drop_session(old);
    Session s{config_.operator_user, std::string(client_id)};
    s.sys_operator = true;
    sessions_.emplace(client, std::move(s));
    metrics_.connects_accepted.inc();
    return AuthResult::accepted;
}

void ChatBroker::drop_session(std::unordered_map<ClientKey, Session>::iterator it) {
    if (it->second.bridge || it->second.sys_operator) {
        sessions_.erase(it);
        return;
    }
    auto user = users_.find(it->second.user);
    sessions_.erase(it);
    if (user != users_.end() && --user->second.sessions == 0) {
        metrics_.connected_devices.add(-static_cast<int64_t>(user->second.devices.size()));
        users_.erase(user);
    }
}

// A closed connection may still publish its Will, and only on p/{self} (PROTOCOL.md).
bool ChatBroker::is_will_topic(const Session& s, Access access, std::string_view topic) {
    return access == Access::write && topic.size() == s.user.size() + 2 && topic.starts_with("p/") &&
           topic.substr(2) == s.user;
}

Principal ChatBroker::principal(const Session& s) const {
    const Permissions* perms = nullptr;  // none for the bridge and closed sessions
    if (s.state) perms = s.state->perms ? s.state->perms.get() : &no_permissions_;
    return Principal{s.user, s.bridge || s.sys_operator ? std::string_view() : std::string_view(s.device), s.bridge,
                     perms, s.sys_operator};
}

bool ChatBroker::acl(ClientKey client, Access access, std::string_view topic, uint32_t payload_len) {
    auto it = sessions_.find(client);
    if (it == sessions_.end()) return false;
    if (it->second.departed) return is_will_topic(it->second, access, topic) && payload_len <= config_.max_payload;
    if (access == Access::write && payload_len > config_.max_payload && !it->second.bridge) {
        metrics_.refused(Refusal::payload_size);
        return false;
    }
    // Compact and lean devices get their inbox entries as direct copies, not the JSON publish.
    const Session& s = it->second;
    if (access == Access::read && s.encoding != Encoding::json && topic.size() == s.user.size() + 4 && topic.starts_with("u/") &&
        topic.substr(2, s.user.size()) == s.user && topic.ends_with("/i")) {
        return false;
    }
    Principal who = principal(s);
    if (allowed(who, access, topic)) return true;
    // A READ refusal is routing (a subscriber that may not see a copy), not a client's attempt.
    if (access != Access::read) metrics_.refused(is_blocked(who, topic) ? Refusal::block : Refusal::acl);
    return false;
}

void ChatBroker::on_disconnect(ClientKey client) {
    auto it = sessions_.find(client);
    if (it == sessions_.end() || it->second.departed) return;
    Session& s = it->second;
    if (s.sys_operator) {
        drop_session(it);
        return;
    }
    if (s.bridge) {
        auto b = std::find(bridge_clients_.begin(), bridge_clients_.end(), s.device);
        if (b != bridge_clients_.end()) bridge_clients_.erase(b);
        drop_session(it);
        return;
    }
    // Mosquitto checks the client's Will (WRITE) only after this event: keep the session for
    // that one check, until the next tick.
    s.departed = true;
    UserState* state = std::exchange(s.state, nullptr);
    departed_.push_back(client);
    auto dev = state->devices.find(s.device);
    // A newer connection with the same client id may already have taken this device over.
    if (dev == state->devices.end() || dev->second != client) return;
    state->devices.erase(dev);
    metrics_.connected_devices.add(-1);
    log_.device_offline(s.user, s.device, clock_());
}

std::unique_ptr<Permissions> ChatBroker::load_permissions(const std::string& user) {
    auto perms = std::make_unique<Permissions>();
    for (auto& g : groups_.postable_groups_of(user)) perms->groups.insert(std::move(g));
    for (auto& b : blocks_.blockers_of(user)) perms->blocked_by.insert(std::move(b));
    for (auto& l : lists_.ids_of(user)) perms->lists.insert(std::move(l));
    if (perms->groups.empty() && perms->blocked_by.empty() && perms->lists.empty()) perms.reset();  // most users: no allocation
    return perms;
}

void ChatBroker::tick() {
    for (ClientKey client : departed_) {
        auto it = sessions_.find(client);
        // A new connection may have taken the same handle over meanwhile: that one stays.
        if (it != sessions_.end() && it->second.departed) drop_session(it);
    }
    departed_.clear();
    int64_t now = clock_();
    if (now >= next_prune_ms_) {
        // A bucket per client id and per address would otherwise stay for every connection ever
        // made, until the key cap; once refilled it is the same as none. Journal pages written
        // meanwhile are unmapped (one madvise): they stay in the page cache, not in our RSS.
        next_prune_ms_ = now + prune_interval_ms;
        connect_limits_.forget_full(now);
        address_connect_limits_.forget_full(now);
        publish_limits_.forget_full(now);
        log_.release_journal_pages();
    }
    expire_calls(now);
    // After a lapse, the moves other nodes made meanwhile are read before anything is taken.
    bool lapsed = clustered() && lease_->lapses() != lapses_handled_;
    if (now < next_refresh_ms_ && !lapsed) return;
    next_refresh_ms_ = now + config_.acl_refresh_ms;
    uint64_t lapses = clustered() ? lease_->lapses() : 0;
    refresh_changed_users();
    lapses_handled_ = lapses;
}

void ChatBroker::refresh_changed_users() {
    auto batch = acl_changes_.since(acl_change_id_);
    acl_change_id_ = batch.last_id;
    for (const auto& user : batch.users) {
        if (clustered()) rehome(user);
        auto it = users_.find(user);
        if (it == users_.end()) continue;
        it->second.perms = load_permissions(user);
        kick_revoked_devices(user, it->second);
    }
}

void ChatBroker::kick_revoked_devices(const std::string& user, const UserState& state) {
    for (const auto& [device, key] : state.devices) {
        auto row = accounts_.find_device(user, device);
        if (row && !row->revoked) continue;
        // The DISCONNECT event that follows the kick removes the session as for any other close.
        auto session = sessions_.find(key);
        if (session == sessions_.end()) continue;
        kicks_.push_back(client_id_of(session->second));
        metrics_.kicked(Kick::revoked);
    }
}

size_t ChatBroker::connected_devices(std::string_view user) const {
    auto it = users_.find(std::string(user));
    return it == users_.end() ? 0 : it->second.devices.size();
}

}  // namespace chat::broker
