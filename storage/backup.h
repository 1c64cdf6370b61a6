// Online backup and restore of the SQLite database (chatctl backup/restore). SQLite only: with
// PostgreSQL, pg_dump / pg_basebackup do this job (README "Backup and restore").
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

namespace chat::storage {

// Held (shared) by every process that serves from the database (broker plugin, bridge,
// sidecar) for its lifetime, as an flock on "<db>.lock"; restore takes it exclusively, so it
// knows that nothing runs, and a crashed process holds nothing. Constructing one waits while a
// restore runs.
class InUseLock {
public:
    explicit InUseLock(const std::string& db_path);
    ~InUseLock();
    InUseLock(const InUseLock&) = delete;
    InUseLock& operator=(const InUseLock&) = delete;

private:
    int fd_ = -1;
};

// Copies the live database to `dest` (a new file) with SQLite's online backup API, as one
// consistent snapshot, while the broker, bridge and sidecar keep running. First waits, at most
// `import_wait`, until the journal importer has put into SQLite everything the journal held
// when this was called (so every publish acknowledged before it is in the copy). Throws
// storage::Error: `dest` exists, the import does not catch up in time, SQLite fails.
void backup_database(const std::string& db_path, const std::filesystem::path& dest,
                     std::chrono::milliseconds import_wait = std::chrono::seconds(60));

// Replaces the database with the backup `source`. Throws storage::Error, changing nothing,
// when a process holds the database (InUseLock), the journal still holds segments (records
// not imported yet: start and stop the broker first), or `source` fails PRAGMA integrity_check
// or has a schema newer than this build.
void restore_database(const std::filesystem::path& source, const std::string& db_path);

}  // namespace chat::storage
