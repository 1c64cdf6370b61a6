// SyncReplay: round-robin paged replay in seq order, one b/replay batch per page (the plugin
// picks JSON or MessagePack for the device).
#include "sync_replay.h"

#include "batch.h"
#include "import_wait.h"

#include <algorithm>

namespace chat::bridge {

SyncReplay::SyncReplay(storage::Database& db, Publisher& out, int page)
    : out_(out), page_(page), inbox_(db) {}

void SyncReplay::request(const std::string& user, const std::string& device, int64_t after, int64_t upto) {
    for (auto& job : jobs_) {
        if (job.user == user && job.device == device) {
            job.after = after;
            job.upto = std::max(job.upto, upto);
            return;
        }
    }
    jobs_.push_back(Job{user, device, after, upto});
}

bool SyncReplay::step() {
    if (jobs_.empty()) return false;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    if (job.upto > 0) {
        wait_until_imported([&] { return inbox_.last_seq(job.user).value_or(0) >= job.upto; });
        job.upto = 0;
    }
    auto entries = inbox_.entries_after(job.user, job.after, page_);
    // One b/replay publish per page; the plugin sends each entry to the device's connection.
    if (!entries.empty()) out_.publish(replay_batch_topic, replay_batch(job.user, job.device, entries), 0);
    out_.flush();
    if (static_cast<int>(entries.size()) == page_) {
        job.after = entries.back().seq;
        jobs_.push_back(std::move(job));
    }
    return true;
}

}  // namespace chat::bridge
