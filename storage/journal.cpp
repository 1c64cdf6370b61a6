// Journal batches: the records of one publish in a fixed binary layout, framed by one length
// and one SipHash (libsodium crypto_shorthash), so a torn tail is recognised and ignored and a
// publish's records are read back all together or not at all.
#include "journal.h"

#include "db.h"

#include <nlohmann/json.hpp>
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
#include <type_traits>

namespace chat::storage {
namespace {

namespace fs = std::filesystem;

constexpr size_t length_bytes = 4;
constexpr size_t header_bytes = length_bytes + crypto_shorthash_BYTES;
constexpr const char* segment_prefix = "segment-";
const unsigned char checksum_key[crypto_shorthash_KEYBYTES] = {};  // integrity, not secrecy
// Journals written before the binary layout hold one MessagePack record per frame: a
// 14-element array, whose first byte no record of the binary layout starts with.
constexpr unsigned char legacy_msgpack_record = 0x9e;

// Little-endian, `bytes` wide: numbers, string lengths and the frame's length.
void store_uint(char* at, uint64_t v, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) at[i] = static_cast<char>(v >> (8 * i));
}

void put_uint(std::string& out, uint64_t v, size_t bytes) {
    out.resize(out.size() + bytes);
    store_uint(out.data() + out.size() - bytes, v, bytes);
}

uint64_t get_uint(const unsigned char* at, size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(at[i]) << (8 * i);
    return v;
}

// A record is its fields in a fixed order: op as one byte, numbers as 8 bytes little-endian,
// strings as a 4-byte little-endian length and their bytes. Encoding is a few appends to a
// reused buffer: this runs on the broker thread for every publish.
void put_string(std::string& out, const std::string& s) {
    put_uint(out, s.size(), 4);
    out.append(s);
}
void put_int(std::string& out, int64_t v) { put_uint(out, static_cast<uint64_t>(v), 8); }

// A record's fields after its op byte, in their journal order: one list for writing, reading
// and reading the previous version's records, so the three cannot drift apart.
template <class Record, class Visit>
void each_field(Record& r, Visit&& visit) {
    auto& e = r.entry;
    visit(r.owner);
    visit(e.id);
    visit(e.seq);
    visit(e.kind);
    visit(e.from);
    visit(e.to);
    visit(e.gid);
    visit(e.ts);
    visit(e.body);
    visit(e.ref);
    visit(e.cid);
    visit(e.expires_ms);
    visit(r.device);
}

void encode(const JournalRecord& r, std::string& out) {
    out.push_back(static_cast<char>(r.op));
    each_field(r, [&](const auto& field) {
        if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) {
            put_string(out, field);
        } else {
            put_int(out, field);
        }
    });
}

// Reads fields back in encode()'s order; throws invalid_argument past the batch's end.
class FieldReader {
public:
    FieldReader(const unsigned char* at, const unsigned char* end) : at_(at), end_(end) {}
    uint64_t uint(size_t bytes) {
        need(bytes);
        uint64_t v = get_uint(at_, bytes);
        at_ += bytes;
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

JournalRecord decode(FieldReader& in) {
    JournalRecord r;
    auto op = in.uint(1);
    if (op < static_cast<uint64_t>(JournalRecord::Op::inbox) || op > static_cast<uint64_t>(JournalRecord::last_op)) {
        throw std::invalid_argument("unknown journal op " + std::to_string(op));
    }
    r.op = static_cast<JournalRecord::Op>(op);
    each_field(r, [&](auto& field) {
        if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) {
            field = in.string();
        } else {
            field = in.number();
        }
    });
    return r;
}

// The previous version's record: a MessagePack array of the op and then the same fields, the
// body as binary.
JournalRecord decode_legacy(const unsigned char* at, const unsigned char* end) {
    auto j = nlohmann::json::from_msgpack(at, end);
    if (!j.is_array() || j.size() != 14) throw std::invalid_argument("not a journal record");
    // Integers only: a float would convert with undefined behaviour (found with fuzz_journal).
    auto integer = [](const nlohmann::json& value) {
        if (!value.is_number_integer()) throw std::invalid_argument("not an integer in a journal record");
        return value.get<int64_t>();
    };
    int64_t op = integer(j[0]);
    if (op < static_cast<int64_t>(JournalRecord::Op::inbox) || op > static_cast<int64_t>(JournalRecord::last_op)) {
        throw std::invalid_argument("unknown journal op " + std::to_string(op));
    }
    JournalRecord r;
    r.op = static_cast<JournalRecord::Op>(op);
    size_t next = 1;
    each_field(r, [&](auto& field) {
        const auto& value = j[next++];
        if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>) {
            if (value.is_binary()) {
                field.assign(value.get_binary().begin(), value.get_binary().end());
            } else {
                field = value.template get<std::string>();
            }
        } else {
            field = integer(value);
        }
    });
    return r;
}

// The records of one checksummed batch, each ending at `end` (where the batch ends).
void decode_batch(const unsigned char* at, const unsigned char* end, uint64_t batch_end, std::vector<ReadRecord>& out) {
    if (*at == legacy_msgpack_record) {
        out.push_back(ReadRecord{decode_legacy(at, end), batch_end});
        return;
    }
    FieldReader in(at, end);
    while (!in.done()) out.push_back(ReadRecord{decode(in), batch_end});
}

void checksum(const unsigned char* data, size_t len, unsigned char* out) {
    crypto_shorthash(out, data, len, checksum_key);
}

// [length][checksum][records...] of one publish, into `out`.
void frame(const std::vector<JournalRecord>& records, std::string& out) {
    out.assign(header_bytes, '\0');
    for (const auto& r : records) encode(r, out);
    auto len = out.size() - header_bytes;
    store_uint(out.data(), len, length_bytes);
    auto* header = reinterpret_cast<unsigned char*>(out.data());
    checksum(header + header_bytes, len, header + length_bytes);
}

}  // namespace

// A segment file allocated up front and mapped for writing; unmapped, cut to what was
// written, and closed when destroyed.
class JournalWriter::MappedSegment {
public:
    MappedSegment(const fs::path& path, uint64_t bytes) : capacity_(bytes) {
        // O_EXCL: a segment number is never reused, so an existing file is someone else's.
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd_ < 0) throw Error("cannot create journal " + path.string() + ": " + std::strerror(errno));
        // Allocated now, so a full disk refuses this publish instead of failing a later page write.
        int err;
        do {
            err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes));
        } while (err == EINTR);
        void* map = err ? MAP_FAILED : ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
        if (map == MAP_FAILED) {
            if (!err) err = errno;
            ::close(fd_);
            ::unlink(path.c_str());
            throw Error("cannot allocate journal " + path.string() + ": " + std::strerror(err));
        }
        map_ = static_cast<char*>(map);
    }
    ~MappedSegment() {
        ::munmap(map_, capacity_);
        (void)::ftruncate(fd_, static_cast<off_t>(size_));  // only saves space: reading stops at the zeros
        ::close(fd_);
    }
    MappedSegment(const MappedSegment&) = delete;
    MappedSegment& operator=(const MappedSegment&) = delete;

    bool fits(size_t n) const { return size_ + n <= capacity_; }
    // Whole pages below the write offset only: the page being written stays mapped.
    void release_written_pages() {
        static const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
        uint64_t upto = size_ / page * page;
        if (upto <= released_) return;
        // MADV_DONTNEED on a shared file mapping drops this process's page table entries only;
        // dirty pages stay in the page cache and are written back as before.
        ::madvise(map_ + released_, upto - released_, MADV_DONTNEED);
        released_ = upto;
    }
    // The durable step: a copy into the page cache. Returns where it ends.
    uint64_t append(const std::string& bytes) {
        std::memcpy(map_ + size_, bytes.data(), bytes.size());
        size_ += bytes.size();
        return size_;
    }

private:
    int fd_ = -1;
    char* map_ = nullptr;
    uint64_t capacity_;
    uint64_t size_ = 0;
    uint64_t released_ = 0;  // bytes from the start already unmapped from this process
};

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
        auto len = static_cast<size_t>(get_uint(header, length_bytes));
        if (len == 0 || bytes.size() - at - header_bytes < len) break;  // zeros never written, or cut short
        const auto* body = header + header_bytes;
        unsigned char sum[crypto_shorthash_BYTES];
        checksum(body, len, sum);
        if (std::memcmp(sum, header + length_bytes, sizeof sum) != 0) break;  // torn
        at += header_bytes + len;
        try {
            decode_batch(body, body + len, at, out);
        } catch (const std::exception& e) {
            // Intact (the checksum matched) yet unreadable: refuse rather than drop acknowledged data.
            throw Error("journal " + segment.string() + " holds a record this version cannot read: " + e.what());
        }
    }
    return out;
}

JournalWriter::JournalWriter(fs::path dir, uint64_t first_segment, uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_(first_segment), segment_bytes_(segment_bytes) {
    fs::create_directories(dir_);
    current_ = std::make_unique<MappedSegment>(journal_segment_path(dir_, segment_), segment_bytes_);
    segments_created_.inc();
}

JournalWriter::~JournalWriter() = default;

void JournalWriter::release_written_pages() { current_->release_written_pages(); }

JournalPosition JournalWriter::append(const std::vector<JournalRecord>& records) {
    frame(records, buffer_);
    if (!current_->fits(buffer_.size())) {
        uint64_t next = segment_ + 1;
        current_ = std::make_unique<MappedSegment>(journal_segment_path(dir_, next),
                                                   std::max<uint64_t>(segment_bytes_, buffer_.size()));
        segment_ = next;
        segments_created_.inc();
    }
    bytes_written_.inc(buffer_.size());
    return JournalPosition{segment_, current_->append(buffer_)};
}

}  // namespace chat::storage
