// Receipts: pages through the newly delivered range and sends one receipt per sender to the plugin.
#include "receipts.h"

#include "batch.h"
#include "import_wait.h"

#include "common/identity.h"

#include <nlohmann/json.hpp>

namespace chat::bridge {

Receipts::Receipts(storage::Database& db, Publisher& out, std::function<int64_t()> clock, int page)
    : out_(out), clock_(std::move(clock)), page_(page), fanout_(db), inbox_(db) {}

size_t Receipts::on_delivered(const std::string& user, int64_t previous, int64_t delivered) {
    // The acked entries may still be on their way from the plugin's journal into SQLite.
    wait_until_imported([&] { return inbox_.last_seq(user).value_or(0) >= delivered; });
    size_t created = 0;
    int64_t after = previous;
    while (after < delivered) {
        int64_t next = delivered;
        auto by_sender = fanout_.delivered_ids(user, after, delivered, page_, next);
        for (auto& [sender, ids] : by_sender) {
            Entry r;
            r.ts = clock_();
            r.id = new_message_id(r.ts);
            r.kind = "receipt";
            r.from = user;
            r.to = sender;
            r.body = nlohmann::json{{"delivered", ids}}.dump();
            out_.publish(fanout_batch_topic, fanout_batch(r, {sender}), 0);  // the plugin stores it
        }
        created += by_sender.size();
        after = next;
    }
    out_.flush();
    return created;
}

}  // namespace chat::bridge
