// Delivered receipts derived from a device's cumulative ack: one receipt entry per
// original sender per ack, listing that sender's message ids. One instance per thread.
#pragma once

#include "publisher.h"

#include "storage/db.h"
#include "storage/fanout.h"
#include "storage/inbox.h"

#include <functional>
#include <string>

namespace chat::bridge {

class Receipts {
public:
    Receipts(storage::Database& db, Publisher& out, int page = 500);
    // `user`'s delivered high-water mark moved from `previous` to `delivered` at `acked_ms`;
    // returns receipts created. A receipt's id derives from the ack and the range it covers,
    // so a redelivered ack (a bridge crash) yields the same ids, which the plugin stores once.
    size_t on_delivered(const std::string& user, int64_t previous, int64_t delivered, int64_t acked_ms);

private:
    Publisher& out_;
    int page_;
    storage::Fanout fanout_;
    storage::Inbox inbox_;
};

}  // namespace chat::bridge
