// The inbox journal: append-only segment files that make a publish durable with one copy into
// a mapped file on the broker thread. What is in the page cache survives a kill -9 of the
// process, exactly like a write() or a WAL commit with synchronous=NORMAL; the Importer copies
// records into SQLite in batches and deletes segments once they are all imported.
#pragma once

#include "common/entry.h"
#include "metrics/registry.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace chat::storage {

// One change the broker made: an inbox entry for `owner`, a group message for fan-out, the
// redaction of an owner's entry `entry.ref` sent by `entry.from` (a delete), an ack moving
// `owner`'s `device` cursor to `entry.seq`, or `owner`'s `device` connecting (online) or
// disconnecting at `entry.ts` (offline: no longer online, and the user's last seen). An inbox
// record's `device` is the sending device of a `sent` entry.
struct JournalRecord {
    enum class Op : uint8_t { inbox = 1, outbox = 2, redact = 3, cursor = 4, online = 5, offline = 6 };
    static constexpr Op last_op = Op::offline;
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
    uint64_t end = 0;  // offset just past its batch (the publish it was part of)
};

// Segment files, in the order they were written.
std::vector<std::filesystem::path> journal_segments(const std::filesystem::path& dir);
uint64_t journal_segment_number(const std::filesystem::path& segment);
// The records of one segment; stops at the unwritten zeros or at a torn batch (a copy cut
// short by a kill, or a power loss). Throws storage::Error for an intact batch it cannot
// read (a journal from a newer version): acknowledged data is never silently dropped.
std::vector<ReadRecord> read_journal_segment(const std::filesystem::path& segment);

// Appends to the current segment, a file of `segment_bytes` allocated up front and mapped into
// memory: an append is a memcpy into the page cache, no system call, and survives a kill -9
// like a write() would. A batch larger than a segment gets a segment of its own size. The
// unwritten rest of a segment is zeros, where reading stops. One thread only.
// The journal folder must be on a filesystem where fallocate reserves the blocks (ext4, xfs,
// tmpfs; not copy-on-write ones such as btrfs, nor NFS): there a failed page write later would
// stop the broker with SIGBUS instead of refusing one publish.
class JournalWriter {
public:
    JournalWriter(std::filesystem::path dir, uint64_t first_segment, uint64_t segment_bytes = 8u << 20);
    // Cuts the current segment down to what was written.
    ~JournalWriter();
    JournalWriter(const JournalWriter&) = delete;
    JournalWriter& operator=(const JournalWriter&) = delete;

    // Appends one publish's records, framed as one batch (read back all together or not at
    // all), and returns where they end; throws storage::Error, having written nothing, when no
    // new segment can be allocated (a full disk).
    JournalPosition append(const std::vector<JournalRecord>& records);
    // Unmaps the pages written so far from this process (they stay in the kernel's page cache,
    // where the file's data lives): appended pages are never read back through the mapping, and
    // kept mapped they counted in the broker's RSS, ~90 B per CONNECT until the segment is full.
    void release_written_pages();
    // Read from any thread (the metrics endpoint); written by the appending thread only.
    const metrics::Counter& bytes_written() const { return bytes_written_; }
    const metrics::Counter& segments_created() const { return segments_created_; }

private:
    class MappedSegment;

    metrics::Counter bytes_written_;
    metrics::Counter segments_created_;
    std::filesystem::path dir_;
    uint64_t segment_;
    uint64_t segment_bytes_;
    std::unique_ptr<MappedSegment> current_;
    std::string buffer_;
};

std::filesystem::path journal_segment_path(const std::filesystem::path& dir, uint64_t segment);

}  // namespace chat::storage
