// Journal records as MessagePack (nlohmann_json), framed by a length and a SipHash
// (libsodium crypto_shorthash) so a torn tail is recognised and ignored.
#include "journal.h"

#include "db.h"

#include <nlohmann/json.hpp>
#include <sodium.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace chat::storage {
namespace {

namespace fs = std::filesystem;

constexpr size_t header_bytes = 4 + crypto_shorthash_BYTES;
constexpr const char* segment_prefix = "segment-";
const unsigned char checksum_key[crypto_shorthash_KEYBYTES] = {};  // integrity, not secrecy

// A positional MessagePack array: no field names to allocate or store.
enum Field { op_field, owner_field, id_field, seq_field, kind_field, from_field, to_field, gid_field, ts_field,
             body_field, ref_field, cid_field, exp_field, device_field, field_count };

nlohmann::json encode(const JournalRecord& r) {
    const Entry& e = r.entry;
    return nlohmann::json::array({static_cast<int>(r.op), r.owner, e.id, e.seq, e.kind, e.from, e.to, e.gid, e.ts,
                                  nlohmann::json::binary(std::vector<uint8_t>(e.body.begin(), e.body.end())), e.ref,
                                  e.cid, e.expires_ms, r.device});
}

JournalRecord decode(const nlohmann::json& j) {
    if (!j.is_array() || j.size() != field_count) throw std::invalid_argument("not a journal record");
    JournalRecord r;
    r.op = static_cast<JournalRecord::Op>(j[op_field].get<int>());
    r.owner = j[owner_field].get<std::string>();
    Entry& e = r.entry;
    e.id = j[id_field].get<std::string>();
    e.seq = j[seq_field].get<int64_t>();
    e.kind = j[kind_field].get<std::string>();
    e.from = j[from_field].get<std::string>();
    e.to = j[to_field].get<std::string>();
    e.gid = j[gid_field].get<std::string>();
    e.ts = j[ts_field].get<int64_t>();
    const auto& body = j[body_field].get_binary();
    e.body.assign(body.begin(), body.end());
    e.ref = j[ref_field].get<std::string>();
    e.cid = j[cid_field].get<std::string>();
    e.expires_ms = j[exp_field].get<int64_t>();
    r.device = j[device_field].get<std::string>();
    return r;
}

void checksum(const unsigned char* data, size_t len, unsigned char* out) {
    crypto_shorthash(out, data, len, checksum_key);
}

// Appends [length][checksum][record] to `out`, the record serialised in place.
void frame(const JournalRecord& r, std::string& out) {
    size_t start = out.size();
    out.append(header_bytes, '\0');
    nlohmann::json::to_msgpack(encode(r), out);
    auto* header = reinterpret_cast<unsigned char*>(out.data() + start);
    auto len = static_cast<uint32_t>(out.size() - start - header_bytes);
    for (int i = 0; i < 4; ++i) header[i] = static_cast<unsigned char>(len >> (8 * i));
    checksum(header + header_bytes, len, header + 4);
}

}  // namespace

fs::path journal_segment_path(const fs::path& dir, uint64_t segment) {
    char name[48];
    std::snprintf(name, sizeof name, "%s%016llu", segment_prefix, static_cast<unsigned long long>(segment));
    return dir / name;
}

std::vector<fs::path> journal_segments(const fs::path& dir) {
    std::vector<fs::path> out;
    if (!fs::exists(dir)) return out;
    for (const auto& item : fs::directory_iterator(dir)) {
        if (item.path().filename().string().starts_with(segment_prefix)) out.push_back(item.path());
    }
    std::sort(out.begin(), out.end());  // zero-padded numbers sort in write order
    return out;
}

uint64_t journal_segment_number(const fs::path& segment) {
    return std::stoull(segment.filename().string().substr(std::strlen(segment_prefix)));
}

std::vector<ReadRecord> read_journal_segment(const fs::path& segment) {
    std::ifstream in(segment, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<ReadRecord> out;
    size_t at = 0;
    while (bytes.size() - at >= header_bytes) {
        const auto* header = reinterpret_cast<const unsigned char*>(bytes.data() + at);
        uint32_t len = 0;
        for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(header[i]) << (8 * i);
        if (bytes.size() - at - header_bytes < len) break;
        const auto* body = header + header_bytes;
        unsigned char sum[crypto_shorthash_BYTES];
        checksum(body, len, sum);
        if (std::memcmp(sum, header + 4, sizeof sum) != 0) break;
        at += header_bytes + len;
        try {
            out.push_back(ReadRecord{decode(nlohmann::json::from_msgpack(body, body + len)), at});
        } catch (const std::exception&) {  // a record of another shape: treat as torn
            break;
        }
    }
    return out;
}

JournalWriter::JournalWriter(fs::path dir, uint64_t first_segment, uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_(first_segment), segment_bytes_(segment_bytes) {
    fs::create_directories(dir_);
    open_segment(segment_);
}

JournalWriter::~JournalWriter() {
    if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::open_segment(uint64_t segment) {
    auto path = journal_segment_path(dir_, segment);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) throw Error("cannot open journal " + path.string() + ": " + std::strerror(errno));
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    segment_ = segment;
    size_ = 0;
    start_new_segment_ = false;
}

JournalPosition JournalWriter::append(const std::vector<JournalRecord>& records) {
    if (start_new_segment_ || size_ >= segment_bytes_) open_segment(segment_ + 1);
    buffer_.clear();
    for (const auto& r : records) frame(r, buffer_);
    ssize_t n = ::write(fd_, buffer_.data(), buffer_.size());
    if (n == static_cast<ssize_t>(buffer_.size())) {
        size_ += buffer_.size();
        return JournalPosition{segment_, size_};
    }
    int err = n < 0 ? errno : ENOSPC;
    // Recovery stops reading a segment at a torn record, so nothing may follow one: cut it
    // off, and go on in a fresh segment in any case.
    if (n > 0) (void)::ftruncate(fd_, static_cast<off_t>(size_));
    start_new_segment_ = true;
    throw Error("journal write failed: " + std::string(std::strerror(err)));
}

}  // namespace chat::storage
