// InboxLog: in-memory seqs, journal writes, and lookups that wait for entries still in flight.
#include "inbox_log.h"

#include <algorithm>

namespace chat::storage {
namespace {

enum class KeyKind : uint64_t { entry = 1, cid = 2, outbox = 3 };

constexpr size_t key_slots = size_t{1} << 18;

uint64_t key_of(KeyKind kind, std::string_view owner, std::string_view name) {
    std::hash<std::string_view> h;
    return (h(owner) * 0x9e3779b97f4a7c15ULL) ^ h(name) ^ (static_cast<uint64_t>(kind) << 61);
}

}  // namespace

InboxLog::InboxLog(Database& db, const std::string& db_location, const std::filesystem::path& journal_dir,
                   const std::string& node)
    : dir_(journal_dir), inbox_(db), outbox_(db), written_by_batch_(key_slots, 0) {
    uint64_t next_segment = recover_journal(db, dir_, node);
    writer_ = std::make_unique<JournalWriter>(dir_, next_segment);
    importer_ = std::make_unique<Importer>(db_location, dir_, next_segment, node);
}

InboxLog::Batch::~Batch() {
    if (committed_) return;
    // Nothing was written: hand the seqs out again, newest first, so no gap appears.
    for (auto it = previous_seqs_.rbegin(); it != previous_seqs_.rend(); ++it) log_.counters_[it->first].last_seq = it->second;
}

bool InboxLog::Batch::add(const std::string& owner, Entry& e) {
    Counters* c = log_.counters(owner);
    if (!c) return false;
    // The same entry twice for one user (a member listed twice in a b/fanout, a message to
    // oneself and its sent copy) is stored once: a second seq would become a gap, since SQLite
    // keeps one row per (id, user). A linear scan: a batch holds at most a chunk of members.
    for (const auto& r : records_) {
        if (r.op == JournalRecord::Op::inbox && r.owner == owner && r.entry.id == e.id) {
            e.seq = r.entry.seq;
            return true;
        }
    }
    previous_seqs_.emplace_back(owner, c->last_seq);
    e.seq = ++c->last_seq;
    records_.push_back(JournalRecord{JournalRecord::Op::inbox, owner, e, e.device});
    return true;
}

void InboxLog::Batch::add_outbox(const Entry& e) { records_.push_back(JournalRecord{JournalRecord::Op::outbox, "", e}); }

void InboxLog::Batch::add_redaction(const std::string& owner, const std::string& ref, const std::string& from) {
    JournalRecord r{JournalRecord::Op::redact, owner, Entry{}};
    r.entry.ref = ref;
    r.entry.from = from;
    records_.push_back(std::move(r));
}

void InboxLog::Batch::commit() {
    if (records_.empty()) {
        committed_ = true;
        return;
    }
    auto end = log_.writer_->append(records_);  // the durable step: after this a kill -9 loses nothing
    committed_ = true;
    log_.remember(records_);
    log_.importer_->push(std::move(records_), end);
}

InboxLog::Counters* InboxLog::counters(const std::string& user) {
    auto it = counters_.find(user);
    if (it != counters_.end()) return &it->second;
    // SQLite's counters are exact here: only this class writes them while the broker runs, and
    // it reads a user's before changing any of them.
    auto seq = inbox_.last_seq(user);
    if (!seq) return nullptr;
    return &counters_.emplace(user, Counters{*seq, inbox_.delivered_seq(user)}).first->second;
}

int64_t InboxLog::last_seq(const std::string& user) {
    Counters* c = counters(user);
    return c ? c->last_seq : 0;
}

void InboxLog::wait_imported() {
    if (!importer_->wait_all_imported(std::chrono::seconds(60))) throw Error("the journal import into SQLite is stuck");
}

int64_t InboxLog::delivered_seq(const std::string& user) {
    Counters* c = counters(user);
    return c ? c->delivered_seq : 0;
}

int64_t InboxLog::pending(const std::string& user) {
    Counters* c = counters(user);
    return c ? c->last_seq - c->delivered_seq : 0;
}

AckResult InboxLog::ack(const std::string& user, const std::string& device, int64_t seq) {
    AckResult result;
    Counters* c = counters(user);
    if (!c) return result;
    result.previous_delivered = c->delivered_seq;
    int64_t capped = std::min(seq, c->last_seq);
    result.delivered = std::max(result.previous_delivered, capped);
    Batch batch(*this);
    JournalRecord& r = batch.records_.emplace_back(JournalRecord::Op::cursor, user, Entry{}, device);
    r.entry.seq = capped;
    batch.commit();
    c->delivered_seq = result.delivered;
    return result;
}

void InboxLog::device_online(const std::string& user, const std::string& device) {
    journal_presence(PresenceChange{JournalRecord::Op::online, user, device, 0});
}

void InboxLog::device_offline(const std::string& user, const std::string& device, int64_t now_ms) {
    journal_presence(PresenceChange{JournalRecord::Op::offline, user, device, now_ms});
}

void InboxLog::journal_presence(PresenceChange change) {
    // One record kept for these appends: a CONNECT allocates nothing here.
    JournalRecord& r = presence_record_.empty() ? presence_record_.emplace_back() : presence_record_.front();
    r.op = change.op;
    r.owner = change.user;
    r.device = change.device;
    r.entry.ts = change.at_ms;
    auto end = writer_->append(presence_record_);  // durable from here, as a publish
    ++batches_;  // counted like a batch: settle() compares this count with the importer's
    importer_->push_presence(std::move(change), end);
}

void InboxLog::remember(const std::vector<JournalRecord>& records) {
    ++batches_;
    auto mark = [&](uint64_t key) { written_by_batch_[key % key_slots] = batches_; };
    for (const auto& r : records) {
        if (r.op == JournalRecord::Op::outbox) mark(key_of(KeyKind::outbox, "", r.entry.id));
        if (r.op != JournalRecord::Op::inbox) continue;
        mark(key_of(KeyKind::entry, r.owner, r.entry.id));
        if (!r.entry.cid.empty()) mark(key_of(KeyKind::cid, r.owner, r.entry.cid));
    }
}

void InboxLog::settle(uint64_t key) {
    // Rare: a retry within moments of its original. The wait is one import transaction.
    if (written_by_batch_[key % key_slots] <= importer_->imported()) return;
    if (!importer_->wait_all_imported()) throw Error("the journal import into SQLite is stuck");
}

bool InboxLog::has_entry(const std::string& owner, const std::string& id) {
    settle(key_of(KeyKind::entry, owner, id));
    return inbox_.has_entry(owner, id);
}

std::optional<Entry> InboxLog::find_by_id(const std::string& owner, const std::string& id) {
    settle(key_of(KeyKind::entry, owner, id));
    return inbox_.find_by_id(owner, id);
}

std::optional<Entry> InboxLog::find_by_cid(const std::string& owner, const std::string& cid,
                                           const std::string& conversation) {
    settle(key_of(KeyKind::cid, owner, cid));  // a wider key than the lookup's: at worst a needless wait
    return inbox_.find_by_cid(owner, cid, conversation);
}

std::optional<Entry> InboxLog::find_outbox(const std::string& id) {
    settle(key_of(KeyKind::outbox, "", id));
    return outbox_.find(id);
}

}  // namespace chat::storage
