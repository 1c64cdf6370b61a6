// SyncReplay: round-robin paged replay in seq order, JSON or MessagePack per device.
#include "sync_replay.h"

namespace chat::bridge {

SyncReplay::SyncReplay(storage::Database& db, Publisher& out, int page)
    : out_(out), page_(page), inbox_(db), policy_(db) {}

void SyncReplay::request(const std::string& user, const std::string& device, int64_t after) {
    for (auto& job : jobs_) {
        if (job.user == user && job.device == device) {
            job.after = after;
            return;
        }
    }
    jobs_.push_back(Job{user, device, after, policy_.is_compact(user, device)});
}

bool SyncReplay::step() {
    if (jobs_.empty()) return false;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    auto entries = inbox_.entries_after(job.user, job.after, page_);
    std::string topic = device_topic(job.user, job.device);
    for (const auto& e : entries) {
        if (job.compact) {
            auto bytes = to_msgpack(e);
            out_.publish(topic, std::string(bytes.begin(), bytes.end()), e.expires_ms);
        } else {
            out_.publish(topic, to_json(e), e.expires_ms);
        }
    }
    out_.flush();
    if (static_cast<int>(entries.size()) == page_) {
        job.after = entries.back().seq;
        jobs_.push_back(std::move(job));
    }
    return true;
}

}  // namespace chat::bridge
