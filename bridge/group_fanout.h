// Group fan-out and membership notices: the members, a chunk at a time, go to the plugin as
// b/fanout batches; it stores one entry per member with the member's own seq and skips members
// that have it already, so a crash mid-fan-out or a second bridge never yields a missing or
// duplicate entry. A message is marked done only after every batch was acknowledged.
// One instance per thread (it holds that thread's prepared statements).
#pragma once

#include "publisher.h"

#include "common/entry.h"
#include "storage/db.h"
#include "storage/fanout.h"
#include "storage/outbox.h"
#include "storage/policy.h"

#include <functional>
#include <optional>
#include <string>

namespace chat::bridge {

class GroupFanout {
public:
    GroupFanout(storage::Database& db, Publisher& out, std::function<int64_t()> clock, int chunk = 100);

    // Fans out a group message the plugin stored (as published on g/{gid}, or read from the
    // outbox) unless it is done already; returns members sent to.
    size_t fan_out(const Entry& message);
    // Group messages not marked done whose ts <= `older_than_ms` (missed while down); returns messages handled.
    size_t fan_out_pending(int64_t older_than_ms, int limit = 100);
    // Turns new membership changes into `notice` entries for the members; returns members sent to.
    size_t emit_notices(int limit = 1000);

private:
    // Members sent to, or nullopt when a batch was not acknowledged.
    std::optional<size_t> deliver(const Entry& message, const std::string& gid, const std::vector<std::string>& extra);
    void finish(const Entry& message);

    storage::Database& db_;
    Publisher& out_;
    std::function<int64_t()> clock_;
    int chunk_;
    storage::Fanout fanout_;
    storage::GroupOutbox outbox_;
    storage::Policy policy_;
};

}  // namespace chat::bridge
