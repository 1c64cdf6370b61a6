// Bridge-side storage: group member chunks, delivered receipts and how far they were made,
// the group change feed and a small persistent state table.
// Like every storage class, one instance belongs to one thread's Database.
#pragma once

#include "common/entry.h"
#include "db.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chat::storage {

struct GroupEvent {
    int64_t id = 0;
    std::string gid;
    std::string user;
    std::string change;  // "added", "removed", "promoted", "demoted" or "settings"
    int64_t ts = 0;
    std::string actor;   // who did it; empty: the operator or the server
    std::string detail;  // "settings": the fields changed, comma-separated
};

class Fanout {
public:
    explicit Fanout(Database& db);

    // Up to `limit` members of `gid` whose user id sorts after `after` (for chunked fan-out).
    std::vector<std::string> members_after(const std::string& gid, const std::string& after, int limit);
    // Up to `limit` users sorting after `after` whose inbox holds the entry `id` (a status's delete).
    std::vector<std::string> holders_after(const std::string& id, const std::string& after, int limit);
    // Message entries of `user` with seq in (after, upto] that others sent, grouped by sender,
    // at most `limit` entries; `next` receives the last seq read (for paging).
    std::map<std::string, std::vector<std::string>> delivered_ids(const std::string& user, int64_t after,
                                                                  int64_t upto, int limit, int64_t& next);

    std::vector<GroupEvent> group_events_after(int64_t after, int limit);
    // Profile changes after `after` (id order): id, user, ts in a GroupEvent's fields.
    std::vector<GroupEvent> profile_events_after(int64_t after, int limit);

    // Small persistent counters (e.g. the group event cursor), shared by all bridges.
    int64_t state(const std::string& key);
    void set_state(const std::string& key, int64_t value);

private:
    Statement members_, delivered_, events_, profile_events_, state_, set_state_, holders_;
};

// A run of delivered receipts for one user: receipts for the entries in (done, target],
// stamped and named after `acked_ms`.
struct ReceiptRun {
    int64_t done = 0;
    int64_t target = 0;
    int64_t acked_ms = 0;
};

// How far each user's delivered receipts were made (users.receipts_*), shared by all bridges:
// a run is recorded before its receipts are sent, so whoever redoes it after a crash sends
// the same receipts under the same ids, which the plugin stores once.
class ReceiptMarks {
public:
    explicit ReceiptMarks(Database& db);
    // Users whose delivered mark is past their receipts, at most `limit`.
    std::vector<std::string> owed(int limit);
    // The user's unfinished run if there is one, else a new one up to the delivered mark
    // stamped `now_ms`; nullopt when no receipts are owed.
    std::optional<ReceiptRun> take(const std::string& user, int64_t now_ms);
    // The run's receipts are stored.
    void finish(const std::string& user, const ReceiptRun& run);

private:
    Statement owed_, start_, read_, finish_;
};

// When each user was last pushed, shared by all bridges: however many run, a user is pushed at
// most once per window.
class PushClaims {
public:
    explicit PushClaims(Database& db);
    // Claims `user`'s push at `now_ms`, unless some bridge pushed less than `window_ms` ago:
    // then returns when that was (nothing is claimed).
    std::optional<int64_t> claim(const std::string& user, int64_t now_ms, int64_t window_ms);

private:
    Statement claim_, last_;
};

}  // namespace chat::storage
