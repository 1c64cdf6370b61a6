// Journal records in a fixed binary layout, framed by a length and a SipHash (libsodium
// crypto_shorthash) so a torn tail is recognised and ignored.
#include "journal.h"

#include "db.h"

#include <sodium.h>

#include <fcntl.h>
#include <sys/mman.h>
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

// A record is its fields in a fixed order: op as one byte, numbers as 8 bytes little-endian,
// strings as a 4-byte little-endian length and their bytes. Encoding is a few appends to a
// reused buffer: this runs on the broker thread for every publish.
void put_uint(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_string(std::string& out, const std::string& s) {
    put_uint(out, s.size(), 4);
    out.append(s);
}
void put_int(std::string& out, int64_t v) { put_uint(out, static_cast<uint64_t>(v), 8); }

void encode(const JournalRecord& r, std::string& out) {
    const Entry& e = r.entry;
    out.push_back(static_cast<char>(r.op));
    put_string(out, r.owner);
    put_string(out, e.id);
    put_int(out, e.seq);
    put_string(out, e.kind);
    put_string(out, e.from);
    put_string(out, e.to);
    put_string(out, e.gid);
    put_int(out, e.ts);
    put_string(out, e.body);
    put_string(out, e.ref);
    put_string(out, e.cid);
    put_int(out, e.expires_ms);
    put_string(out, r.device);
}

// Reads fields back in encode()'s order; throws invalid_argument past the record's end.
class FieldReader {
public:
    FieldReader(const unsigned char* at, const unsigned char* end) : at_(at), end_(end) {}
    uint64_t uint(int bytes) {
        need(static_cast<size_t>(bytes));
        uint64_t v = 0;
        for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(*at_++) << (8 * i);
        return v;
    }
    int64_t number() { return static_cast<int64_t>(uint(8)); }
    std::string string() {
        auto len = static_cast<size_t>(uint(4));
        need(len);
        std::string s(reinterpret_cast<const char*>(at_), len);
        at_ += len;
        return s;
    }
    bool done() const { return at_ == end_; }

private:
    void need(size_t n) const {
        if (static_cast<size_t>(end_ - at_) < n) throw std::invalid_argument("journal record cut short");
    }
    const unsigned char* at_;
    const unsigned char* end_;
};

JournalRecord decode(const unsigned char* at, const unsigned char* end) {
    FieldReader in(at, end);
    JournalRecord r;
    auto op = in.uint(1);
    if (op < 1 || op > 4) throw std::invalid_argument("unknown journal op");
    r.op = static_cast<JournalRecord::Op>(op);
    r.owner = in.string();
    Entry& e = r.entry;
    e.id = in.string();
    e.seq = in.number();
    e.kind = in.string();
    e.from = in.string();
    e.to = in.string();
    e.gid = in.string();
    e.ts = in.number();
    e.body = in.string();
    e.ref = in.string();
    e.cid = in.string();
    e.expires_ms = in.number();
    r.device = in.string();
    if (!in.done()) throw std::invalid_argument("journal record too long");
    return r;
}

void checksum(const unsigned char* data, size_t len, unsigned char* out) {
    crypto_shorthash(out, data, len, checksum_key);
}

// Appends [length][checksum][record] to `out`, the record serialised in place.
void frame(const JournalRecord& r, std::string& out) {
    size_t start = out.size();
    out.append(header_bytes, '\0');
    encode(r, out);
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
        if (len == 0 || bytes.size() - at - header_bytes < len) break;  // zeros: never written
        const auto* body = header + header_bytes;
        unsigned char sum[crypto_shorthash_BYTES];
        checksum(body, len, sum);
        if (std::memcmp(sum, header + 4, sizeof sum) != 0) break;
        at += header_bytes + len;
        try {
            out.push_back(ReadRecord{decode(body, body + len), at});
        } catch (const std::exception&) {  // a record of another shape: treat as torn
            break;
        }
    }
    return out;
}

JournalWriter::JournalWriter(fs::path dir, uint64_t first_segment, uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_(first_segment), segment_bytes_(segment_bytes) {
    fs::create_directories(dir_);
    open_segment(segment_, segment_bytes_);
}

JournalWriter::~JournalWriter() { close_segment(); }

void JournalWriter::open_segment(uint64_t segment, uint64_t bytes) {
    auto path = journal_segment_path(dir_, segment);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw Error("cannot open journal " + path.string() + ": " + std::strerror(errno));
    // Allocated now, so a full disk refuses this publish instead of failing a later page write.
    int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    void* map = err ? MAP_FAILED : ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        if (!err) err = errno;
        ::close(fd);
        ::unlink(path.c_str());
        throw Error("cannot allocate journal " + path.string() + ": " + std::strerror(err));
    }
    close_segment();
    fd_ = fd;
    map_ = static_cast<char*>(map);
    capacity_ = bytes;
    size_ = 0;
    segment_ = segment;
}

void JournalWriter::close_segment() {
    if (fd_ < 0) return;
    ::munmap(map_, capacity_);
    (void)::ftruncate(fd_, static_cast<off_t>(size_));  // only saves space: reading stops at the zeros anyway
    ::close(fd_);
    fd_ = -1;
    map_ = nullptr;
}

JournalPosition JournalWriter::append(const std::vector<JournalRecord>& records) {
    buffer_.clear();
    for (const auto& r : records) frame(r, buffer_);
    if (fd_ < 0 || size_ + buffer_.size() > capacity_) {
        open_segment(segment_ + 1, std::max<uint64_t>(segment_bytes_, buffer_.size()));
    }
    std::memcpy(map_ + size_, buffer_.data(), buffer_.size());  // the durable step
    size_ += buffer_.size();
    return JournalPosition{segment_, size_};
}

}  // namespace chat::storage
