// Cluster: prepared statements over nodes, user_homes and handoffs. On PostgreSQL the row of a
// node is the lock that keeps a move of its users apart from the rest: a move (settle_home)
// locks it FOR UPDATE; a renewal (a plain UPDATE, FOR NO KEY UPDATE) and an import transaction
// (FOR KEY SHARE) each wait for a move, never for each other, so a long import never holds a
// renewal up. SQLite serialises writers anyway (BEGIN IMMEDIATE).
#include "cluster.h"

#include <algorithm>
#include <functional>

namespace chat::storage {
namespace {

// Users per routing query: one statement with this many placeholders, unused ones bound to ''.
constexpr int route_chunk = 64;

std::string chunk_marks(int first) {
    std::string marks;
    for (int i = 0; i < route_chunk; ++i) marks += (i == 0 ? "?" : ", ?") + std::to_string(first + i);
    return marks;
}

std::string route_sql() {
    return "SELECT h.user_id, h.node_id, n.lease_until_ms FROM user_homes h JOIN nodes n ON n.node_id = h.node_id "
           "WHERE h.user_id IN (" + chunk_marks(1) + ")";
}

std::string elsewhere_sql() {
    return "SELECT user_id FROM user_homes WHERE node_id <> ?1 AND user_id IN (" + chunk_marks(2) + ")";
}

// Binds users[start, start + route_chunk) from placeholder `first` on, '' for the unused ones.
void bind_chunk(Statement& s, int first, const std::vector<std::string>& users, size_t start) {
    for (int i = 0; i < route_chunk; ++i) {
        size_t at = start + static_cast<size_t>(i);
        s.bind(first + i, at < users.size() ? std::string_view(users[at]) : std::string_view());
    }
}

// Rendezvous hashing: each user goes to the live node with the highest score, so the loss of a
// node moves only its own users, spread over the others.
const NodeInfo* choose_node(const std::string& user, const std::vector<NodeInfo>& live) {
    const NodeInfo* best = nullptr;
    size_t best_score = 0;
    for (const auto& n : live) {
        size_t score = std::hash<std::string>{}(user + "\n" + n.id);
        if (!best || score > best_score || (score == best_score && n.id < best->id)) {
            best = &n;
            best_score = score;
        }
    }
    return best;
}

Entry entry_from(const Statement& s) {
    Entry e;
    e.id = s.text_at(2);
    e.kind = s.text_at(3);
    e.from = s.text_at(4);
    e.to = s.text_at(5);
    e.gid = s.text_at(6);
    e.ts = s.int_at(7);
    e.body = s.blob_at(8);
    e.ref = s.text_at(9);
    e.cid = s.text_at(10);
    e.expires_ms = s.int_at(11);
    e.device = s.text_at(12);
    e.seq = 0;
    return e;
}

}  // namespace

Cluster::Cluster(Database& db)
    : db_(db),
      // ON CONFLICT DO UPDATE would lock the row as FOR UPDATE: an UPDATE first, and an INSERT
      // only for a node's first lease.
      renew_(db, "UPDATE nodes SET address = ?, lease_until_ms = ? WHERE node_id = ?"),
      register_(db, "INSERT INTO nodes(node_id, address, lease_until_ms) VALUES(?, ?, ?) ON CONFLICT(node_id) DO NOTHING"),
      lease_(db, "SELECT lease_until_ms FROM nodes WHERE node_id = ?"),
      release_(db, "UPDATE nodes SET lease_until_ms = ? WHERE node_id = ? AND lease_until_ms > ?"),
      hold_(db, Sql{"SELECT lease_until_ms FROM nodes WHERE node_id = ?",
                    "SELECT lease_until_ms FROM nodes WHERE node_id = ? FOR KEY SHARE"}),
      nodes_(db, "SELECT node_id, address, lease_until_ms FROM nodes ORDER BY node_id"),
      live_nodes_(db, "SELECT node_id, address, lease_until_ms FROM nodes WHERE lease_until_ms > ? ORDER BY node_id"),
      home_of_(db, "SELECT h.node_id, n.address, n.lease_until_ms FROM user_homes h "
                   "LEFT JOIN nodes n ON n.node_id = h.node_id WHERE h.user_id = ?"),
      user_exists_(db, "SELECT 1 FROM users WHERE id = ?"),
      lock_home_(db, Sql{"SELECT node_id FROM user_homes WHERE user_id = ?",
                         "SELECT node_id FROM user_homes WHERE user_id = ? FOR UPDATE"}),
      node_lease_(db, Sql{"SELECT address, lease_until_ms FROM nodes WHERE node_id = ?",
                          "SELECT address, lease_until_ms FROM nodes WHERE node_id = ? FOR UPDATE"}),
      set_home_(db, "INSERT INTO user_homes(user_id, node_id, since_ms) VALUES(?, ?, ?) ON CONFLICT(user_id) "
                    "DO UPDATE SET node_id = excluded.node_id, since_ms = excluded.since_ms"),
      record_change_(db, "INSERT INTO acl_changes(user_id) VALUES(?)"),
      hand_off_(db, "INSERT INTO handoffs(owner_id, entry_id, kind, from_user, to_user, gid, ts, body, ref, cid, "
                    "expires_ms, device) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(owner_id, entry_id) DO NOTHING"),
      handoffs_(db, "SELECT id, owner_id, entry_id, kind, from_user, to_user, gid, ts, body, ref, cid, expires_ms, "
                    "device FROM handoffs ORDER BY id LIMIT ?"),
      handoff_done_(db, "DELETE FROM handoffs WHERE id = ?"),
      route_(db, route_sql()),
      elsewhere_(db, elsewhere_sql()),
      clear_online_(db, "UPDATE devices SET online = 0 WHERE online != 0 AND user_id IN "
                        "(SELECT user_id FROM user_homes WHERE node_id = ?)") {}

int64_t Cluster::renew_lease(const std::string& node, const std::string& address, int64_t now_ms, int64_t lease_ms) {
    Transaction tx(db_);
    int64_t before = 0;
    {
        // Only this node writes its lease (a move only reads it): no lock needed to read it.
        ResetOnExit r(lease_);
        if (lease_.bind(1, node).step()) before = lease_.int_at(0);
    }
    renew_.bind(1, address).bind(2, now_ms + lease_ms).bind(3, node).run();
    if (db_.changes() == 0) register_.bind(1, node).bind(2, address).bind(3, now_ms + lease_ms).run();
    tx.commit();
    return before;
}

void Cluster::release_lease(const std::string& node, int64_t now_ms) {
    release_.bind(1, now_ms).bind(2, node).bind(3, now_ms).run();
}

void Cluster::hold_lease(const std::string& node) {
    ResetOnExit r(hold_);
    hold_.bind(1, node).step();
}

std::vector<std::string> Cluster::homed_elsewhere(const std::vector<std::string>& users, const std::string& node) {
    std::vector<std::string> out;
    for (size_t start = 0; start < users.size(); start += route_chunk) {
        elsewhere_.bind(1, node);
        bind_chunk(elsewhere_, 2, users, start);
        ResetOnExit r(elsewhere_);
        while (elsewhere_.step()) out.push_back(elsewhere_.text_at(0));
    }
    return out;
}

namespace {

std::vector<NodeInfo> read_nodes(Statement& s) {
    ResetOnExit r(s);
    std::vector<NodeInfo> out;
    while (s.step()) out.push_back(NodeInfo{s.text_at(0), s.text_at(1), s.int_at(2)});
    return out;
}

}  // namespace

std::vector<NodeInfo> Cluster::nodes() { return read_nodes(nodes_); }

std::vector<NodeInfo> Cluster::live_nodes(int64_t now_ms) {
    live_nodes_.bind(1, now_ms);
    return read_nodes(live_nodes_);
}

std::optional<Home> Cluster::home_of(const std::string& user, int64_t now_ms) {
    {
        ResetOnExit r(home_of_);
        if (home_of_.bind(1, user).step()) {
            Home h{home_of_.text_at(0), home_of_.text_at(1), home_of_.int_at(2) > now_ms};
            return h;
        }
    }
    ResetOnExit r(user_exists_);
    if (!user_exists_.bind(1, user).step()) return std::nullopt;
    return Home{};
}

std::optional<Home> Cluster::settle_home(const std::string& user, int64_t now_ms) {
    Transaction tx(db_);
    {
        ResetOnExit r(user_exists_);
        if (!user_exists_.bind(1, user).step()) return std::nullopt;
    }
    Home home;
    {
        ResetOnExit r(lock_home_);
        if (lock_home_.bind(1, user).step()) home.node = lock_home_.text_at(0);
    }
    if (!home.node.empty()) {
        ResetOnExit r(node_lease_);
        if (node_lease_.bind(1, home.node).step()) {
            home.address = node_lease_.text_at(0);
            home.live = node_lease_.int_at(1) > now_ms;
        }
    }
    if (home.live) {
        tx.commit();
        return home;
    }
    auto live = live_nodes(now_ms);
    const NodeInfo* chosen = choose_node(user, live);
    if (!chosen) {
        tx.commit();
        return home;  // nowhere to go: stays where it was, not live
    }
    set_home_.bind(1, user).bind(2, chosen->id).bind(3, now_ms).run();
    // Every node drops what it cached about the user: its home, and its seqs on the old node.
    record_change_.bind(1, user).run();
    tx.commit();
    return Home{chosen->id, chosen->address, true};
}

std::map<std::string, std::vector<std::string>> Cluster::route(const std::vector<std::string>& users, int64_t now_ms) {
    std::map<std::string, std::vector<std::string>> by_node;
    std::map<std::string, std::string> live_home;  // user -> node, for users with a live home
    for (size_t start = 0; start < users.size(); start += route_chunk) {
        bind_chunk(route_, 1, users, start);
        ResetOnExit r(route_);
        while (route_.step()) {
            if (route_.int_at(2) > now_ms) live_home[route_.text_at(0)] = route_.text_at(1);
        }
    }
    for (const auto& user : users) {
        auto it = live_home.find(user);
        if (it != live_home.end()) {
            by_node[it->second].push_back(user);
            continue;
        }
        auto home = settle_home(user, now_ms);  // none yet, or its node is dead: rare
        if (home && home->live) by_node[home->node].push_back(user);
    }
    return by_node;
}

void Cluster::clear_online(const std::string& node) { clear_online_.bind(1, node).run(); }

void Cluster::hand_off(const std::string& owner, const Entry& e) {
    hand_off_.bind(1, owner).bind(2, e.id).bind(3, e.kind).bind(4, e.from).bind_or_null(5, e.to).bind_or_null(6, e.gid);
    hand_off_.bind(7, e.ts).bind_blob(8, e.body).bind_or_null(9, e.ref).bind_or_null(10, e.cid);
    hand_off_.bind_or_null(11, e.expires_ms).bind_or_null(12, e.device).run();
}

std::vector<Handoff> Cluster::handoffs(int limit) {
    ResetOnExit r(handoffs_);
    handoffs_.bind(1, int64_t{limit});
    std::vector<Handoff> out;
    while (handoffs_.step()) out.push_back(Handoff{handoffs_.int_at(0), handoffs_.text_at(1), entry_from(handoffs_)});
    return out;
}

void Cluster::handoff_done(int64_t id) { handoff_done_.bind(1, id).run(); }

}  // namespace chat::storage
