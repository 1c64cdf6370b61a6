// Receipts: a run per user from the receipts mark to the delivered mark, paged, one receipt per
// sender, stored by the plugin; the mark moves once every receipt of the run is stored.
#include "receipts.h"

#include "import_wait.h"

#include "common/identity.h"
#include "common/log.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <vector>

namespace chat::bridge {

Receipts::Receipts(storage::Database& db, Publisher& out, int page)
    : out_(out), page_(page), fanout_(db), inbox_(db), marks_(db) {}

size_t Receipts::on_ack(const std::string& user, int64_t delivered, int64_t acked_ms) {
    // The ack (and the entries it covers, journaled before it) may still be on their way from
    // the plugin's journal into SQLite; if it takes too long, the periodic catch-up gets it.
    if (!wait_until_imported([&] { return inbox_.delivered_seq(user) >= delivered; }, std::chrono::seconds(10))) {
        log::log(log::Level::notice, "receipts_deferred", {{"user", user}, {"reason", "ack not imported yet"}});
        return 0;
    }
    size_t before = created_;
    make(user, acked_ms);
    return created_ - before;  // take_created() still counts them
}

size_t Receipts::catch_up(int64_t now_ms, int limit) {
    size_t finished = 0;
    for (const auto& user : marks_.owed(limit)) finished += make(user, now_ms) ? 1 : 0;
    return finished;
}

bool Receipts::make(const std::string& user, int64_t now_ms) {
    auto run = marks_.take(user, now_ms);
    if (!run) return true;  // nothing owed (another bridge made them)
    std::vector<Entry> receipts;  // made once: a retry sends the same ids, which the plugin skips
    int64_t after = run->done;
    while (after < run->target) {
        int64_t next = run->target;
        for (auto& [sender, ids] : fanout_.delivered_ids(user, after, run->target, page_, next)) {
            Entry r;
            r.ts = run->acked_ms;
            // Named after the run, which is recorded before anything is sent: a redo after a
            // crash names every receipt alike.
            r.id = derived_message_id(run->acked_ms, user + ">" + sender + ":" + std::to_string(run->done) + "-" +
                                                         std::to_string(run->target));
            r.kind = "receipt";
            r.from = user;
            r.to = sender;
            r.body = nlohmann::json{{"delivered", ids}}.dump();
            receipts.push_back(std::move(r));
        }
        after = next;
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
        for (const auto& r : receipts) out_.fanout(r, {r.to}, false);  // the plugin stores them
        Acks acks = out_.flush();
        if (acks == Acks::missing) continue;
        if (acks == Acks::refused) {
            log::log(log::Level::error, "receipts_refused", {{"user", user}, {"from_seq", run->done + 1}, {"to_seq", run->target}});
        } else {
            created_ += receipts.size();
        }
        marks_.finish(user, *run);
        return true;
    }
    log::log(log::Level::warning, "receipts_unacknowledged", {{"user", user}});
    return false;
}

}  // namespace chat::bridge
