// Receipts: pages through the newly delivered range and sends one receipt per sender to the plugin.
#include "receipts.h"

#include "batch.h"
#include "import_wait.h"

#include "common/identity.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <vector>

namespace chat::bridge {

Receipts::Receipts(storage::Database& db, Publisher& out, int page) : out_(out), page_(page), fanout_(db), inbox_(db) {}

size_t Receipts::on_delivered(const std::string& user, int64_t previous, int64_t delivered, int64_t acked_ms) {
    // The acked entries may still be on their way from the plugin's journal into SQLite.
    if (!wait_until_imported([&] { return inbox_.last_seq(user).value_or(0) >= delivered; },
                             std::chrono::seconds(10))) {
        std::cerr << "chat-bridge: receipts for " << user << " read before the import caught up\n";
    }
    std::vector<std::string> batches;  // built once: a retry sends the same ids, which the plugin skips
    int64_t after = previous;
    while (after < delivered) {
        int64_t next = delivered;
        for (auto& [sender, ids] : fanout_.delivered_ids(user, after, delivered, page_, next)) {
            Entry r;
            r.ts = acked_ms;
            r.id = derived_message_id(acked_ms, user + ">" + sender + ":" + std::to_string(after) + "-" +
                                                    std::to_string(delivered));
            r.kind = "receipt";
            r.from = user;
            r.to = sender;
            r.body = nlohmann::json{{"delivered", ids}}.dump();
            batches.push_back(fanout_batch(r, {sender}));
        }
        after = next;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
        for (const auto& b : batches) out_.publish(fanout_batch_topic, b, 0);  // the plugin stores them
        if (out_.flush()) return batches.size();
    }
    std::cerr << "chat-bridge: receipts for " << user << " were not acknowledged\n";
    return 0;
}

}  // namespace chat::bridge
