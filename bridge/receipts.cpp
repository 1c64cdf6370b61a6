// Receipts: pages through the newly delivered range and stores one receipt per sender.
#include "receipts.h"

#include "common/identity.h"

#include <nlohmann/json.hpp>

namespace chat::bridge {

Receipts::Receipts(storage::Database& db, Publisher& out, std::function<int64_t()> clock, int page)
    : db_(db), out_(out), clock_(std::move(clock)), page_(page), fanout_(db), inbox_(db) {}

size_t Receipts::on_delivered(const std::string& user, int64_t previous, int64_t delivered) {
    size_t created = 0;
    int64_t after = previous;
    while (after < delivered) {
        int64_t next = delivered;
        auto by_sender = fanout_.delivered_ids(user, after, delivered, page_, next);
        std::vector<std::pair<std::string, Entry>> stored;
        {
            storage::Transaction tx(db_);
            for (auto& [sender, ids] : by_sender) {
                Entry r;
                r.ts = clock_();
                r.id = new_message_id(r.ts);
                r.kind = "receipt";
                r.from = user;
                r.to = sender;
                r.body = nlohmann::json{{"delivered", ids}}.dump();
                if (inbox_.append(sender, r)) stored.emplace_back(sender, std::move(r));
            }
            tx.commit();
        }
        for (auto& [sender, r] : stored) out_.publish(inbox_topic(sender), to_json(r), 0);
        created += stored.size();
        after = next;
    }
    return created;
}

}  // namespace chat::bridge
