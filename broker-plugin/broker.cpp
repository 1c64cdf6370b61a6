// ChatBroker sessions: authentication, ACL decisions, permission refresh, disconnects.
#include "broker.h"

#include "common/identity.h"

#include <algorithm>

namespace chat::broker {
namespace {

// Idle rate-limit buckets are forgotten this often: each pass walks every bucket.
constexpr int64_t prune_interval_ms = 1000;

}  // namespace

ChatBroker::ChatBroker(Config config, std::function<int64_t()> clock)
    : config_(std::move(config)),
      clock_(std::move(clock)),
      db_(db_location(config_)),
      accounts_(db_),
      groups_(db_),
      blocks_(db_),
      acl_changes_(db_),
      checkpointer_(db_location(config_), std::chrono::milliseconds(100)),
      policy_(db_),
      log_(db_, db_location(config_), journal_dir(config_)),
      publish_limits_(config_.publish_limit),
      connect_limits_(config_.connect_limit),
      address_connect_limits_(config_.address_connect_limit) {
    // The broker thread only appends to the WAL; checkpointer_ copies it back off-thread.
    db_.disable_auto_checkpoint();
    db_.retry_busy_quickly();
    bridge_password_hash_ = hash_token(config_.bridge_password);
    accounts_.clear_online();
    acl_change_id_ = acl_changes_.latest_id();
}

AuthResult ChatBroker::authenticate(ClientKey client, std::string_view client_id, std::string_view username,
                                    std::string_view password, std::string_view address) {
    int64_t now = clock_();
    // Reconnect storms are damped before any work: per client id, and per source address.
    if (!connect_limits_.allow(client_id, now) || !address_connect_limits_.allow(address, now)) {
        return AuthResult::unavailable;
    }
    if (username == config_.bridge_user) {
        bool known_id = std::find(config_.bridge_clients.begin(), config_.bridge_clients.end(), client_id) !=
                        config_.bridge_clients.end();
        if (!known_id || !token_matches(password, bridge_password_hash_)) return AuthResult::refused;
        if (auto old = sessions_.find(client); old != sessions_.end()) drop_session(old);
        Session s{config_.bridge_user, std::string(client_id)};
        s.bridge = true;
        sessions_.emplace(client, std::move(s));
        bridge_clients_.emplace_back(client_id);
        return AuthResult::accepted;
    }
    size_t slash = client_id.find('/');
    if (slash == std::string_view::npos) return AuthResult::refused;
    std::string user(client_id.substr(0, slash));
    std::string device(client_id.substr(slash + 1));
    if (user != username || !is_user_id(user) || !is_device_id(device)) return AuthResult::refused;
    // The one SQLite read of a CONNECT (two more for a user's permissions when none of their
    // devices is connected yet); its write, the online flag, goes through the journal.
    auto row = accounts_.find_device(user, device);
    if (!row || row->revoked || !token_matches(password, row->token_hash)) return AuthResult::refused;
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
    it->second.devices[device] = client;
    ++it->second.sessions;
    Session s{it->first, std::move(device), &it->second};
    s.encoding = encoding;
    if (replay) publishes_.push_back(sync_forward(it->first, s.device, row->cursor));
    sessions_.emplace(client, std::move(s));
    return AuthResult::accepted;
}

void ChatBroker::drop_session(std::unordered_map<ClientKey, Session>::iterator it) {
    if (it->second.bridge) {
        sessions_.erase(it);
        return;
    }
    auto user = users_.find(it->second.user);
    sessions_.erase(it);
    if (user != users_.end() && --user->second.sessions == 0) users_.erase(user);
}

// A closed connection may still publish its Will, and only on p/{self} (PROTOCOL.md).
bool ChatBroker::is_will_topic(const Session& s, Access access, std::string_view topic) {
    return access == Access::write && topic.size() == s.user.size() + 2 && topic.starts_with("p/") &&
           topic.substr(2) == s.user;
}

Principal ChatBroker::principal(const Session& s) const {
    const Permissions* perms = nullptr;  // none for the bridge and closed sessions
    if (s.state) perms = s.state->perms ? s.state->perms.get() : &no_permissions_;
    return Principal{s.user, s.bridge ? std::string_view() : std::string_view(s.device), s.bridge, perms};
}

bool ChatBroker::acl(ClientKey client, Access access, std::string_view topic, uint32_t payload_len) {
    auto it = sessions_.find(client);
    if (it == sessions_.end()) return false;
    if (it->second.departed) return is_will_topic(it->second, access, topic) && payload_len <= config_.max_payload;
    if (access == Access::write && payload_len > config_.max_payload && !it->second.bridge) return false;
    // Compact and lean devices get their inbox entries as direct copies, not the JSON publish.
    const Session& s = it->second;
    if (access == Access::read && s.encoding != Encoding::json && topic.size() == s.user.size() + 4 && topic.starts_with("u/") &&
        topic.substr(2, s.user.size()) == s.user && topic.ends_with("/i")) {
        return false;
    }
    return allowed(principal(it->second), access, topic);
}

void ChatBroker::on_disconnect(ClientKey client) {
    auto it = sessions_.find(client);
    if (it == sessions_.end() || it->second.departed) return;
    Session& s = it->second;
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
    log_.device_offline(s.user, s.device, clock_());
}

std::unique_ptr<Permissions> ChatBroker::load_permissions(const std::string& user) {
    auto perms = std::make_unique<Permissions>();
    for (auto& g : groups_.groups_of(user)) perms->groups.insert(std::move(g));
    for (auto& b : blocks_.blockers_of(user)) perms->blocked_by.insert(std::move(b));
    if (perms->groups.empty() && perms->blocked_by.empty()) perms.reset();  // most users: no allocation
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
    if (now < next_refresh_ms_) return;
    next_refresh_ms_ = now + config_.acl_refresh_ms;
    refresh_changed_users();
}

void ChatBroker::refresh_changed_users() {
    auto batch = acl_changes_.since(acl_change_id_);
    acl_change_id_ = batch.last_id;
    for (const auto& user : batch.users) {
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
        if (session != sessions_.end()) kicks_.push_back(client_id_of(session->second));
    }
}

size_t ChatBroker::connected_devices(std::string_view user) const {
    auto it = users_.find(std::string(user));
    return it == users_.end() ? 0 : it->second.devices.size();
}

}  // namespace chat::broker
