// SyncReplay: round-robin paged replay in seq order, one b/replay batch per page (the plugin
// picks JSON or MessagePack for the device).
#include "sync_replay.h"

#include "import_wait.h"

#include <algorithm>
#include <chrono>

namespace chat::bridge {
namespace {

constexpr int max_import_waits = 20;  // x 500 ms; then replay what is there
// A replay page's budget, well under the shipped max_packet_size (512 KiB): bodies counted as
// base64 (the worst case in JSON), plus the entry's other fields.
constexpr size_t max_replay_page_bytes = 256 * 1024;
constexpr size_t replay_entry_overhead = 256;

}  // namespace

SyncReplay::SyncReplay(storage::Database& db, Publisher& out, int page)
    : out_(out), page_(page), inbox_(db) {}

void SyncReplay::request(SyncRequest r) {
    for (auto& job : jobs_) {
        if (job.user == r.user && job.device == r.device) {
            job.after = r.after;
            job.upto = std::max(job.upto, r.upto);
            return;
        }
    }
    jobs_.push_back(Job{std::move(r), 0});
}

SyncReplay::Step SyncReplay::step() {
    if (jobs_.empty()) return Step::idle;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    if (job.upto > 0) {
        // Replaying before the import caught up would skip entries the device then never asks
        // for again: wait, and give other devices their turn meanwhile.
        if (!wait_until_imported([&] { return inbox_.last_seq(job.user).value_or(0) >= job.upto; },
                                 std::chrono::milliseconds(500)) &&
            ++job.waits < max_import_waits) {
            jobs_.push_back(std::move(job));
            return Step::waited;
        }
        job.upto = 0;
    }
    auto entries = inbox_.entries_after(job.user, job.after, page_);
    bool more = static_cast<int>(entries.size()) == page_;
    // The broker refuses packets over max_packet_size, the bridge's too: a page of large
    // entries is cut short (never below one entry) and the rest follows in the next page.
    size_t bytes = 0, keep = 0;
    for (; keep < entries.size(); ++keep) {
        bytes += entries[keep].body.size() * 4 / 3 + replay_entry_overhead;
        if (keep > 0 && bytes > max_replay_page_bytes) break;
    }
    if (keep < entries.size()) {
        entries.resize(keep);
        more = true;
    }
    // One b/replay publish per page; the plugin sends each entry to the device's connection.
    if (!entries.empty()) out_.replay(job.user, job.device, entries);
    out_.flush();
    if (!more) return Step::finished;
    job.after = entries.back().seq;
    jobs_.push_back(std::move(job));
    return Step::page;
}

}  // namespace chat::bridge
