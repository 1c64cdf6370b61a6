// Cluster: the broker nodes sharing one database, each one's lease, every user's home node, and
// the inbox entries a restarted node hands to users' new homes (docs/PROTOCOL.md "Cluster").
#pragma once

#include "common/entry.h"
#include "db.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct NodeInfo {
    std::string id;
    std::string address;          // where phones connect to it (host:port)
    int64_t lease_until_ms = 0;   // its lease; past it, its users may move to another node
};

struct Home {
    std::string node;      // empty: the user has no home yet
    std::string address;   // the node's client-facing address
    bool live = false;     // the node's lease runs (lease_until_ms > now)
};

// An inbox entry a restarted node found in its journal for a user it no longer homes: the
// user's new home stores it with a new seq (same id), once (the bridge delivers it).
struct Handoff {
    int64_t id = 0;
    std::string owner;
    Entry entry;  // as journaled, seq included (the new home gives it its own); device kept
};

class Cluster {
public:
    explicit Cluster(Database& db);

    // Registers `node` or renews its lease until now + lease_ms (address updated); returns the
    // lease it held before (0: never registered). Waits for a settle_home() in progress that
    // is moving one of its users, so a renewal and a move never interleave; never waits for an
    // import transaction.
    int64_t renew_lease(const std::string& node, const std::string& address, int64_t now_ms, int64_t lease_ms);
    // Ends the lease now (a clean stop): its users move at their next settle_home().
    void release_lease(const std::string& node, int64_t now_ms);
    // In `node`'s import transaction: locks its row until the commit, so no settle_home() moves
    // one of its users meanwhile.
    void hold_lease(const std::string& node);
    // Which of `users` are homed on a node other than `node` (they moved while it was away).
    std::vector<std::string> homed_elsewhere(const std::vector<std::string>& users, const std::string& node);
    std::vector<NodeInfo> nodes();
    std::vector<NodeInfo> live_nodes(int64_t now_ms);

    // The user's home as recorded, or nullopt for a user that does not exist.
    std::optional<Home> home_of(const std::string& user, int64_t now_ms);
    // The user's home, first assigned (no home yet) or moved (its node's lease has expired) to a
    // live node chosen by rendezvous hashing of the user id over the live nodes; nullopt for an
    // unknown user. A home stays `live == false` only when no node is live. A move records an
    // acl change for the user, which tells every node to drop what it cached about the user.
    // Runs its own transaction.
    std::optional<Home> settle_home(const std::string& user, int64_t now_ms);
    // Live homes of many users at once, settling those without one: node id -> users (in the
    // order given). Users that do not exist, or for whom no node is live, are left out.
    std::map<std::string, std::vector<std::string>> route(const std::vector<std::string>& users, int64_t now_ms);

    // A node starts: none of its users' devices is online any more (other nodes' users are).
    void clear_online(const std::string& node);

    // Queues an entry for `owner`'s new home (idempotent per (owner, entry id)).
    void hand_off(const std::string& owner, const Entry& e);
    std::vector<Handoff> handoffs(int limit);
    void handoff_done(int64_t id);

private:
    Database& db_;
    Statement renew_, register_, lease_, release_, hold_, nodes_, live_nodes_, home_of_, user_exists_, lock_home_, node_lease_,
        set_home_, record_change_, hand_off_, handoffs_, handoff_done_, route_, elsewhere_, clear_online_;
};

}  // namespace chat::storage
