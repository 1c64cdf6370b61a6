// Group fan-out and membership notices: the members, a chunk at a time, go to the plugin as
// b/fanout batches; it stores one entry per member with the member's own seq and skips members
// that have it already, so a crash mid-fan-out or a second bridge never yields a missing or
// duplicate entry. A message is marked done only after every batch was acknowledged.
// One instance per thread (it holds that thread's prepared statements).
#pragma once

#include "publisher.h"

#include "common/entry.h"
#include "storage/db.h"
#include "storage/broadcast.h"
#include "storage/fanout.h"
#include "storage/outbox.h"
#include "storage/policy.h"
#include "storage/social.h"

#include <deque>
#include <functional>
#include <string>
#include <utility>

namespace chat::bridge {

struct FanOutResult {
    size_t members = 0;     // sent to
    bool finished = false;  // marked done by this call: stored for every member, or refused by the broker
};

class GroupFanout {
public:
    GroupFanout(storage::Database& db, Publisher& out, std::function<int64_t()> clock, int chunk = 100);

    // Fans out a group message the plugin stored (as published on g/{gid}, or read from the
    // outbox) unless it is done already. A relay (gid empty, `to` set: a direct message or read
    // receipt published on m/{to} or r/{to} on a node that does not home `to`) goes to `to`
    // alone as one direct batch, which the recipient's home stores with the recipient's seq. A broadcast list's message (published on l/{list};
    // its gid is the list id) goes to each list member who has not blocked the sender as a
    // 1:1 message; a status (gid status_outbox_gid, published on st/{user}) goes to its audience
    // but for blocks either way, and a status's delete to every holder of the status. A message the broker refuses (a batch answered with
    // an error, none unanswered) is logged and marked done too: sending it again would get
    // the same answer, and it would hold up every later scan.
    FanOutResult fan_out(const Entry& message);
    // Group messages not marked done whose ts <= `older_than_ms` (missed while down), at most
    // `limit`; returns the messages finished (attempts that left a message pending not counted).
    size_t fan_out_pending(int64_t older_than_ms, int limit = 100);
    // fan_out_pending() until a pass finishes nothing (what is left waits for the next scan);
    // returns the messages finished.
    size_t catch_up(int64_t older_than_ms);
    // Marks done the delivered messages whose outbox row has reached the database since, oldest
    // first (fan_out() does not wait for the import); returns how many it finished. One whose
    // row has not come within 2 s is left to the pending scan.
    size_t finish_delivered(int64_t now_ms);
    bool awaiting_rows() const { return !awaiting_row_.empty(); }
    // Member copies sent by fan_out() (live, pending scan or catch-up) since the last call.
    size_t take_members_sent() { return std::exchange(members_sent_, 0); }
    // Turns new group changes into `notice` entries for the members, one per group and actor
    // (who did it, what changed, the group's current name); returns members sent to.
    size_t emit_notices(int limit = 1000);

private:
    struct Delivery {
        Acks acks = Acks::all;
        size_t members = 0;
    };
    Delivery deliver(const Entry& message, const std::string& gid, const std::vector<std::string>& extra);
    static bool is_relay(const Entry& message) { return message.gid.empty() && !message.to.empty(); }
    Delivery relay(const Entry& message);
    // The notice's JSON body (PROTOCOL.md "Groups"): the group, its current name, the actor
    // ("by", null for the operator or the server) and the changes.
    std::string notice_body(const std::string& gid, const std::string& actor, const std::vector<std::string>& added,
                            const std::vector<std::string>& removed, const std::vector<std::string>& promoted,
                            const std::vector<std::string>& demoted, const std::vector<std::string>& settings);
    // Marks the message done once its outbox row is in SQLite; false if it is not yet.
    bool finish(const Entry& message, Acks acks);

    // Delivered, its outbox row still on the way from the plugin's journal into the database.
    struct Awaiting {
        Entry message;
        Acks acks;
        int64_t since_ms;
    };

    storage::Database& db_;
    Publisher& out_;
    std::function<int64_t()> clock_;
    int chunk_;
    size_t members_sent_ = 0;
    std::deque<Awaiting> awaiting_row_;
    storage::Fanout fanout_;
    storage::BroadcastLists lists_;
    storage::Blocks blocks_;
    storage::GroupOutbox outbox_;
    storage::Policy policy_;
    storage::Groups groups_;
};

}  // namespace chat::bridge
