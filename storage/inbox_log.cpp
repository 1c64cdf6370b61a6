// InboxLog: in-memory seqs, journal writes, and lookups that see entries still in flight.
#include "inbox_log.h"

namespace chat::storage {
namespace {

std::string entry_key(const std::string& owner, const std::string& id) { return owner + '\x1f' + id; }
std::string outbox_key(const std::string& id) { return '\x1e' + id; }
std::string cid_key(const std::string& owner, const std::string& cid) { return owner + '\x1d' + cid; }

std::filesystem::path journal_dir(const std::string& db_path) { return db_path + ".journal"; }

}  // namespace

InboxLog::InboxLog(Database& db, const std::string& db_path)
    : dir_(journal_dir(db_path)), inbox_(db), outbox_(db) {
    uint64_t next_segment = recover_journal(db, dir_);
    writer_ = std::make_unique<JournalWriter>(dir_, next_segment);
    importer_ = std::make_unique<Importer>(db_path, dir_, next_segment);
}

InboxLog::Batch::~Batch() {
    if (committed_) return;
    // Nothing was written: hand the seqs out again, newest first, so no gap appears.
    for (auto it = previous_seqs_.rbegin(); it != previous_seqs_.rend(); ++it) log_.last_seq_[it->first] = it->second;
}

bool InboxLog::Batch::add(const std::string& owner, Entry& e) {
    int64_t* slot = log_.seq_slot(owner);
    if (!slot) return false;
    previous_seqs_.emplace_back(owner, *slot);
    e.seq = ++*slot;
    records_.push_back(JournalRecord{JournalRecord::Op::inbox, owner, e});
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
    log_.writer_->append(records_);  // the durable step: after this a kill -9 loses nothing
    committed_ = true;
    log_.forget_imported();
    log_.remember(records_);
    log_.importer_->push(std::move(records_), log_.writer_->segment());
}

int64_t* InboxLog::seq_slot(const std::string& user) {
    auto it = last_seq_.find(user);
    if (it != last_seq_.end()) return &it->second;
    // users.last_seq is exact here: only this class appends while the broker runs, and it
    // reads a user's counter before handing out any of that user's seqs.
    auto seq = inbox_.last_seq(user);
    if (!seq) return nullptr;
    return &last_seq_.emplace(user, *seq).first->second;
}

int64_t InboxLog::last_seq(const std::string& user) {
    int64_t* slot = seq_slot(user);
    return slot ? *slot : 0;
}

void InboxLog::remember(const std::vector<JournalRecord>& records) {
    std::vector<std::string> keys;
    for (const auto& r : records) {
        if (r.op == JournalRecord::Op::redact) continue;
        std::string key = r.op == JournalRecord::Op::inbox ? entry_key(r.owner, r.entry.id) : outbox_key(r.entry.id);
        if (!r.entry.cid.empty()) {
            std::string cid = cid_key(r.owner, r.entry.cid);
            pending_cids_[cid] = key;
            keys.push_back(std::move(cid));
        }
        pending_[key] = r.entry;
        keys.push_back(std::move(key));
    }
    pending_batches_.emplace_back(++batches_, std::move(keys));
}

void InboxLog::forget_imported() {
    uint64_t imported = importer_->imported();
    while (!pending_batches_.empty() && pending_batches_.front().first <= imported) {
        for (const auto& key : pending_batches_.front().second) {
            pending_.erase(key);
            pending_cids_.erase(key);
        }
        pending_batches_.pop_front();
    }
}

bool InboxLog::has_entry(const std::string& owner, const std::string& id) {
    return pending_.contains(entry_key(owner, id)) || inbox_.has_entry(owner, id);
}

std::optional<Entry> InboxLog::find_by_id(const std::string& owner, const std::string& id) {
    auto it = pending_.find(entry_key(owner, id));
    if (it != pending_.end()) return it->second;
    return inbox_.find_by_id(owner, id);
}

std::optional<Entry> InboxLog::find_by_cid(const std::string& owner, const std::string& cid) {
    auto key = pending_cids_.find(cid_key(owner, cid));
    if (key != pending_cids_.end()) return pending_.at(key->second);
    return inbox_.find_by_cid(owner, cid);
}

std::optional<Entry> InboxLog::find_outbox(const std::string& id) {
    auto it = pending_.find(outbox_key(id));
    if (it != pending_.end()) return it->second;
    return outbox_.find(id);
}

}  // namespace chat::storage
