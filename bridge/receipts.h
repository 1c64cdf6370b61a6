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
    Receipts(storage::Database& db, Publisher& out, std::function<int64_t()> clock, int page = 500);
    // `user`'s delivered high-water mark moved from `previous` to `delivered`; returns receipts created.
    size_t on_delivered(const std::string& user, int64_t previous, int64_t delivered);

private:
    Publisher& out_;
    std::function<int64_t()> clock_;
    int page_;
    storage::Fanout fanout_;
    storage::Inbox inbox_;
};

}  // namespace chat::bridge
