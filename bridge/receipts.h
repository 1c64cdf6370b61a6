// Delivered receipts derived from the durable delivered mark: one receipt entry per original
// sender per run, listing that sender's message ids. One instance per thread.
#pragma once

#include "publisher.h"

#include "storage/db.h"
#include "storage/fanout.h"
#include "storage/inbox.h"

#include <cstdint>
#include <string>
#include <utility>

namespace chat::bridge {

class Receipts {
public:
    Receipts(storage::Database& db, Publisher& out, int page = 500);
    // A device's ack moved `user`'s delivered mark to `delivered` at `acked_ms`: once SQLite has
    // that mark, makes the receipts owed up to it; returns receipts created.
    size_t on_ack(const std::string& user, int64_t delivered, int64_t acked_ms);
    // Makes the receipts owed to up to `limit` users whose acks reached storage without the
    // receipts being made (no bridge ran, or it died after the ack's PUBACK), stamped `now_ms`
    // unless a run was already under way; returns the users whose receipts are now made.
    size_t catch_up(int64_t now_ms, int limit = 100);
    // Receipts created since the last call.
    size_t take_created() { return std::exchange(created_, 0); }

private:
    // Makes `user`'s unfinished or next run; true when it is finished.
    bool make(const std::string& user, int64_t now_ms);

    Publisher& out_;
    int page_;
    storage::Fanout fanout_;
    storage::Inbox inbox_;
    storage::ReceiptMarks marks_;
    size_t created_ = 0;
};

}  // namespace chat::bridge
