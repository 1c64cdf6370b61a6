// The inbox journal: append-only segment files that make a publish durable with one write()
// on the broker thread. A write that returned survives a kill -9 of the process (the page
// cache holds it), exactly like a WAL commit with synchronous=NORMAL; the Importer copies
// records into SQLite in batches and deletes segments once they are all imported.
#pragma once

#include "common/entry.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace chat::storage {

// One change the broker made: an inbox entry for `owner`, a group message for fan-out, the
// redaction of an owner's entry `entry.ref` sent by `entry.from` (a delete), or an ack moving
// `owner`'s `device` cursor to `entry.seq`.
struct JournalRecord {
    enum class Op : uint8_t { inbox = 1, outbox = 2, redact = 3, cursor = 4 };
    JournalRecord() = default;
    JournalRecord(Op op_, std::string owner_, Entry entry_, std::string device_ = {})
        : op(op_), owner(std::move(owner_)), entry(std::move(entry_)), device(std::move(device_)) {}

    Op op = Op::inbox;
    std::string owner;
    Entry entry;
    std::string device;
};

// Where a write ended: the segment number and the byte offset just past its last record.
struct JournalPosition {
    uint64_t segment = 0;
    uint64_t offset = 0;
};

struct ReadRecord {
    JournalRecord record;
    uint64_t end = 0;  // offset just past it
};

// Segment files, in the order they were written.
std::vector<std::filesystem::path> journal_segments(const std::filesystem::path& dir);
uint64_t journal_segment_number(const std::filesystem::path& segment);
// The records of one segment; stops at a torn or corrupt tail (a write cut by power loss).
std::vector<ReadRecord> read_journal_segment(const std::filesystem::path& segment);

// Appends to the current segment, a file of `segment_bytes` allocated up front and mapped into
// memory: an append is a memcpy into the page cache, no system call, and survives a kill -9
// like a write() would. A batch larger than a segment gets a segment of its own size. The
// unwritten rest of a segment is zeros, where reading stops. One thread only.
class JournalWriter {
public:
    JournalWriter(std::filesystem::path dir, uint64_t first_segment, uint64_t segment_bytes = 8u << 20);
    // Cuts the current segment down to what was written.
    ~JournalWriter();
    JournalWriter(const JournalWriter&) = delete;
    JournalWriter& operator=(const JournalWriter&) = delete;

    // Appends the records and returns where they end; throws storage::Error, having written
    // nothing, when no segment can be allocated (a full disk).
    JournalPosition append(const std::vector<JournalRecord>& records);

private:
    void open_segment(uint64_t segment, uint64_t bytes);
    void close_segment();

    std::filesystem::path dir_;
    uint64_t segment_;
    uint64_t segment_bytes_;
    int fd_ = -1;
    char* map_ = nullptr;
    uint64_t capacity_ = 0;
    uint64_t size_ = 0;
    std::string buffer_;
};

std::filesystem::path journal_segment_path(const std::filesystem::path& dir, uint64_t segment);

}  // namespace chat::storage
