// ChatBroker: everything the plugin decides, with no mosquitto types, so unit tests
// can drive it without a broker. Used only from mosquitto's single main thread.
#pragma once

#include "acl.h"
#include "calls.h"
#include "broker_metrics.h"
#include "config.h"
#include "device_connections.h"
#include "node_lease.h"
#include "rate_limits.h"
#include "common/entry.h"
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/broadcast.h"
#include "storage/backup.h"
#include "storage/checkpointer.h"
#include "storage/cluster.h"
#include "storage/db.h"
#include "storage/inbox_log.h"
#include "storage/policy.h"
#include "storage/social.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chat::broker {

using UserProperties = std::vector<std::pair<std::string, std::string>>;

struct Publish {
    std::string topic;
    std::string payload;
};

// A publish the plugin sends itself (QoS 1): to one connected client, or routed normally to
// the topic's subscribers (READ-checked) when client_id is empty.
struct DirectPublish {
    std::string client_id;
    Publish message;
    uint32_t expiry_s = 0;  // MQTT v5 Message Expiry Interval; 0 = none
    int qos = 1;
    bool retain = false;
    bool relayed = false;  // from another node (b/live): carries the user property relayed=1
};

// How a CONNECT ends: accepted, refused for its credentials ("not authorised"), or closed
// without an answer because the server cannot take it now (throttled), which a client treats
// as a passing network fault rather than a revoked token.
enum class AuthResult { accepted, refused, unavailable };

struct MessageResult {
    enum class Verdict { pass, rewrite, deny };
    Verdict verdict = Verdict::pass;
    Publish rewritten;                  // with Verdict::rewrite
    std::vector<DirectPublish> extra;   // e.g. the sender's other devices
    std::string reason;                 // why it was denied, for the log
    Refusal refusal = Refusal::acl;     // and for the metrics
};

class ChatBroker {
public:
    ChatBroker(Config config, std::function<int64_t()> clock);

    AuthResult authenticate(ClientKey client, std::string_view client_id, std::string_view username,
                            std::string_view password, std::string_view address = {});
    bool acl(ClientKey client, Access access, std::string_view topic, uint32_t payload_len);
    MessageResult on_message(ClientKey client, std::string_view topic, std::string payload,
                             const UserProperties& props);
    void on_disconnect(ClientKey client);
    // Called often from the broker loop; does work only every acl_refresh_ms.
    void tick();
    // Client ids to disconnect now (revoked devices, sustained abusers); the plugin kicks them.
    std::vector<std::string> take_kicks() { return std::exchange(kicks_, {}); }
    // Publishes decided outside a publish (a replay a lean device's CONNECT starts); the plugin
    // queues them after each CONNECT.
    std::vector<DirectPublish> take_publishes() { return std::exchange(publishes_, {}); }

    size_t connected_devices(std::string_view user) const;
    // What the broker holds in memory for connections, live or gone (tests of its bounds).
    struct Footprint {
        size_t sessions = 0, users = 0, rate_buckets = 0;
    };
    Footprint footprint() const {
        return {sessions_.size(), users_.size(),
                connect_limits_.keys() + address_connect_limits_.keys() + publish_limits_.keys()};
    }
    // Blocks until everything stored so far is in SQLite, not only in the journal (tests).
    void wait_imported() { log_.wait_imported(); }

    // The broker's metrics; render() is safe from any thread (the plugin's metrics endpoint).
    const metrics::Registry& metrics() const { return registry_; }
    // A live copy the broker refused to queue (the plugin's publish step).
    void live_copy_dropped() { metrics_.live_copies_dropped.inc(); }
    // What is wrong with the import into SQLite (lag over plugin_opt_max_import_lag_ms, or
    // failing transactions), or nullopt; safe from any thread.
    std::optional<std::string> health() const;

private:
    // Per connected user. Kept small: the broker holds one per idle connection.
    struct UserState {
        std::unique_ptr<Permissions> perms;        // null while in no group and blocked by nobody
        DeviceConnections devices;
        uint32_t sessions = 0;  // sessions naming this user, departed ones too: it lives while they do
    };
    struct Session {
        const std::string& user;  // the users_ key (unordered_map nodes do not move) or the bridge user
        std::string device;       // the bridge's client id for the bridge
        UserState* state = nullptr;
        int refused_in_a_row = 0;  // rate-limited publishes since the last accepted one
        Encoding encoding = Encoding::json;  // compact and lean: entries come as direct copies
        bool bridge = false;
        bool sys_operator = false;
        bool departed = false;     // closed; kept until the next tick for its Will's check
    };

    MessageResult handle_message(ClientKey client, std::string_view topic, std::string payload,
                                 const UserProperties& props);
    // Cluster (docs/PROTOCOL.md "Cluster"): where a user's home is, as far as this node knows.
    enum class Where { here, elsewhere, nobody };
    Where where(const std::string& user);
    bool clustered() const { return lease_ != nullptr; }
    // Whether this node may take publishes and CONNECTs now: its lease runs and, after a lapse,
    // it has re-read which of its users moved.
    bool node_open() const;
    // After a lapse or a move: forgets cached homes and seqs of users homed elsewhere now, and
    // disconnects their devices.
    void rehome(const std::string& user);
    // A direct message or receipt to a user homed on another node: the shared entry goes into
    // the outbox (with `sent`, the sender's own copy) and the publish on to `topic` for a bridge.
    MessageResult relay(const Session& s, Entry* sent, Entry& shared, std::string topic);
    static std::string client_id_of(const Session& s) {
        return s.bridge || s.sys_operator ? s.device : s.user + "/" + s.device;
    }
    // The operator identity's CONNECT (plugin_opt_operator_user).
    AuthResult authenticate_operator(ClientKey client, std::string_view client_id, std::string_view password);
    // Erases a session and, with its last session, the user's state.
    void drop_session(std::unordered_map<ClientKey, Session>::iterator it);
    Principal principal(const Session& s) const;
    static bool is_will_topic(const Session& s, Access access, std::string_view topic);
    // Null when the user is in no group, owns no broadcast list and is blocked by nobody.
    std::unique_ptr<Permissions> load_permissions(const std::string& user);
    void refresh_changed_users();
    // Queues a disconnect of every live connection of a device that was revoked meanwhile.
    void kick_revoked_devices(const std::string& user, const UserState& state);
    // The user's publish budget; refusing, and after many refusals in a row disconnecting.
    std::optional<MessageResult> rate_limited(Session& s);
    MessageResult direct_message(const Session& s, std::string_view to, std::string payload,
                                 const UserProperties& props);
    MessageResult group_message(const Session& s, std::string_view gid, std::string payload,
                                const UserProperties& props);
    MessageResult list_message(const Session& s, std::string_view list, std::string payload,
                               const UserProperties& props);
    MessageResult receipt(const Session& s, std::string_view to, const std::string& payload);
    // A status update or its early delete (status_posts.cpp): stored for the poster, fanned out
    // to the audience by a bridge from one outbox record.
    MessageResult status_post(const Session& s, const std::string& payload, const UserProperties& props);
    MessageResult typing(const Session& s, std::string_view to, const std::string& payload);
    // Call signals (call_signals.cpp): live only, never stored; CallTable decides where they go.
    MessageResult call_signal(const Session& s, std::string_view to, const std::string& payload);
    // `json` to one device of `user`, or to all of them but `except` when `device` is empty.
    void to_call_devices(const std::string& user, const std::string& device, const std::string& except,
                         const std::string& json, std::vector<DirectPublish>& out) const;
    // Ends the ringing of legs past their ring timeout (hangup "timeout" and missed-call notices).
    void expire_calls(int64_t now);
    // A `notice` about an unanswered call, stored in the caller's and the callee's inbox.
    void store_missed_call(const CallLeg& leg, std::vector<DirectPublish>& out);
    MessageResult ack(const Session& s, const std::string& payload);
    MessageResult sync_request(const Session& s, const std::string& payload);
    std::optional<Entry> earlier_copy(const Session& s, const Entry& e, std::string_view conversation);
    static Entry sent_copy(const Session& s, Entry& e);
    MessageResult redeliver_duplicate(const Session& s, const Entry& sent);
    MessageResult journal_for_fanout(const Session& s, Entry& sent, Entry& shared, std::string topic);
    // Asks a bridge to replay `user`'s inbox after `after` to one device (forwarded like s/).
    DirectPublish sync_forward(const std::string& user, const std::string& device, int64_t after);
    MessageResult bridge_publish(std::string_view topic, const std::string& payload);
    // Bridge-only batches (docs/PROTOCOL.md): one publish carries a chunk of stored entries,
    // expanded here into one live copy per member or per replayed entry.
    MessageResult expand_fanout(const std::string& payload);
    MessageResult expand_replay(const std::string& payload);
    // b/live: a presence or typing publish from another node, published here as it came.
    MessageResult expand_live(const std::string& payload);
    // The seconds left before an entry's absolute expiry "exp" (0 = none), or nullopt when due.
    std::optional<uint32_t> expiry_left(int64_t expires_ms) const;
    // Live-delivery extras for an entry landing in `user`'s inbox: direct copies for the user's
    // compact and lean devices, or a push signal to a bridge when no device is connected.
    void add_live_extras(const std::string& user, const Entry& e, MessageResult& r);
    bool over_cap(const std::string& user);
    // The sender's own `sent` entry to its other connected devices, and to the sending device
    // a confirmation if it is lean.
    std::vector<DirectPublish> copies_to_own_devices(const Session& s, const Entry& sent);
    Entry new_entry(const Session& s, std::string payload, const UserProperties& props);

    metrics::Registry registry_;  // first: the series below point into it
    BrokerMetrics metrics_;
    Config config_;
    storage::InUseLock in_use_;  // chatctl restore refuses while this is held
    std::function<int64_t()> clock_;
    MessageIdGenerator ids_;
    EntryJsonWriter json_;  // every entry the broker thread serialises
    storage::Database db_;
    storage::Accounts accounts_;
    storage::Groups groups_;
    storage::Blocks blocks_;
    storage::BroadcastLists lists_;
    storage::AclChanges acl_changes_;
    storage::WalCheckpointer checkpointer_;
    storage::Policy policy_;
    storage::Cluster cluster_;
    std::unique_ptr<NodeLease> lease_;  // a cluster node's only; taken before the journal is imported
    storage::InboxLog log_;  // after db_ and lease_: it imports an earlier run's journal through them
    std::string bridge_password_hash_;
    std::string operator_password_hash_;  // empty: no operator identity
    int64_t acl_change_id_ = 0;
    int64_t next_refresh_ms_ = 0;
    std::unordered_map<std::string, UserState> users_;  // before sessions_, whose users name its keys
    std::unordered_map<ClientKey, Session> sessions_;
    std::vector<std::string> bridge_clients_;  // connected bridge client ids, for push signals
    size_t next_bridge_ = 0;
    RateLimiter publish_limits_;          // per user
    RateLimiter connect_limits_;          // per client id
    RateLimiter address_connect_limits_;  // per source address
    std::vector<std::string> kicks_;
    std::vector<DirectPublish> publishes_;
    std::vector<ClientKey> departed_;  // sessions closed since the last tick
    int64_t next_prune_ms_ = 0;        // when idle rate-limit buckets are next forgotten
    const Permissions no_permissions_; // a user in no group and blocked by nobody
    CallTable calls_;
    std::unordered_map<std::string, bool> homed_here_;  // cluster: user -> homed on this node
    uint64_t lapses_handled_ = 0;
};

}  // namespace chat::broker
