// Fuzz target: reading journal segments and importing them into SQLite. Two shapes of input:
// batches the journal's writer wrote followed by a torn or garbage tail (a kill -9, a bad disk),
// which must read back exactly as written and import; and batches framed with a valid checksum
// around arbitrary bytes, which the reader must read or refuse with storage::Error, never
// misread.
#include "common/identity.h"
#include "storage/accounts.h"
#include "storage/db.h"
#include "storage/importer.h"
#include "storage/journal.h"
#include "temp_dir.h"

#include <fuzzer/FuzzedDataProvider.h>
#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using chat::storage::JournalRecord;

void require(bool ok) {
    if (!ok) std::abort();
}

// One journal folder and database for the whole process; each input writes the next segment.
struct World {
    chat::fuzz::TempDir dir;
    fs::path journal = dir.path() / "journal";
    chat::storage::Database db{(dir.path() / "chat.db").string()};
    uint64_t next_segment = 1;
    int64_t next_seq = 1;
    uint64_t next_id = 1;

    World() {
        chat::storage::Accounts accounts(db);
        for (const char* user : {"15550001", "15550002"}) {
            accounts.create_user(user, 1);
            accounts.add_device(user, "d1", chat::hash_token("token"), 1);
        }
        fs::create_directories(journal);
    }
};

// A record as the plugin makes them: existing owners and devices, fresh ids and rising seqs,
// with the fuzzer's bytes in the free-form fields.
JournalRecord record(FuzzedDataProvider& in, World& w) {
    static const char* const users[] = {"15550001", "15550002"};
    static const char* const kinds[] = {"msg", "edit", "delete", "media", "receipt", "notice", "sent"};
    JournalRecord r;
    r.op = static_cast<JournalRecord::Op>(in.ConsumeIntegralInRange(1, 4));
    r.owner = users[in.ConsumeIntegralInRange(0, 1)];
    r.device = "d1";
    auto& e = r.entry;
    e.id = std::to_string(w.next_id++) + in.ConsumeRandomLengthString(16);
    e.seq = w.next_seq++;
    e.kind = kinds[in.ConsumeIntegralInRange(0, 6)];
    e.from = users[in.ConsumeIntegralInRange(0, 1)];
    e.to = in.ConsumeRandomLengthString(16);
    e.gid = in.ConsumeRandomLengthString(16);
    e.ts = in.ConsumeIntegral<int64_t>();
    e.body = in.ConsumeRandomLengthString(512);
    e.ref = in.ConsumeRandomLengthString(24);
    e.cid = in.ConsumeBool() ? std::to_string(w.next_id++) + in.ConsumeRandomLengthString(16) : "";
    e.expires_ms = in.ConsumeIntegral<int64_t>();
    return r;
}

bool same(const JournalRecord& a, const JournalRecord& b) {
    const auto &x = a.entry, &y = b.entry;
    return a.op == b.op && a.owner == b.owner && a.device == b.device && x.id == y.id && x.seq == y.seq &&
           x.kind == y.kind && x.from == y.from && x.to == y.to && x.gid == y.gid && x.ts == y.ts &&
           x.body == y.body && x.ref == y.ref && x.cid == y.cid && x.expires_ms == y.expires_ms;
}

void append_bytes(const fs::path& file, const std::string& bytes) {
    std::ofstream(file, std::ios::binary | std::ios::app) << bytes;
}

// What the writer wrote comes back whatever tail follows it, and the importer takes it in.
void written_then_torn(FuzzedDataProvider& in, World& w) {
    uint64_t number = w.next_segment++;
    std::vector<JournalRecord> written;
    {
        chat::storage::JournalWriter writer(w.journal, number, 4096);
        for (int batches = in.ConsumeIntegralInRange(0, 4); batches > 0; --batches) {
            std::vector<JournalRecord> batch;
            for (int n = in.ConsumeIntegralInRange(1, 3); n > 0; --n) batch.push_back(record(in, w));
            writer.append(batch);
            written.insert(written.end(), batch.begin(), batch.end());
        }
    }  // cut down to what was written; a bigger batch opened segments after `number`
    auto segments = chat::storage::journal_segments(w.journal);
    w.next_segment = chat::storage::journal_segment_number(segments.back()) + 1;
    std::string tail = in.ConsumeRemainingBytesAsString();
    append_bytes(segments.back(), tail);

    std::vector<chat::storage::ReadRecord> read;
    for (const auto& segment : segments) {
        auto part = chat::storage::read_journal_segment(segment);
        read.insert(read.end(), part.begin(), part.end());
    }
    require(read.size() == written.size());
    for (size_t i = 0; i < read.size(); ++i) require(same(read[i].record, written[i]));
    chat::storage::recover_journal(w.db, w.journal);
    require(chat::storage::journal_segments(w.journal).empty());
}

// [length][SipHash][body] around the fuzzer's bytes, as the writer frames a batch.
std::string framed(const std::string& body) {
    std::string out(4 + crypto_shorthash_BYTES, '\0');
    for (size_t i = 0; i < 4; ++i) out[i] = static_cast<char>(body.size() >> (8 * i));
    const unsigned char key[crypto_shorthash_KEYBYTES] = {};
    crypto_shorthash(reinterpret_cast<unsigned char*>(out.data()) + 4,
                     reinterpret_cast<const unsigned char*>(body.data()), body.size(), key);
    return out + body;
}

void forged_batches(FuzzedDataProvider& in, World& w) {
    std::string bytes;
    while (in.remaining_bytes() > 0) {
        std::string body = in.ConsumeRandomLengthString(1024);
        bytes += in.ConsumeBool() ? framed(body) : body;
    }
    fs::path segment = chat::storage::journal_segment_path(w.journal, w.next_segment++);
    append_bytes(segment, bytes);
    try {
        for (const auto& r : chat::storage::read_journal_segment(segment)) {
            require(r.end <= bytes.size());
        }
    } catch (const chat::storage::Error&) {
        // an intact batch this version cannot read: refused, as documented
    }
    fs::remove(segment);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world;
    FuzzedDataProvider in(data, size);
    if (in.ConsumeBool()) {
        written_then_torn(in, world);
    } else {
        forged_batches(in, world);
    }
    return 0;
}
