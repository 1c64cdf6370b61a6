// Backup and restore through SQLite's backup API; the import wait reads the journal and the
// importer's mark.
#include "backup.h"

#include "db.h"
#include "journal.h"
#include "schema.h"

#include <sqlite3.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

namespace chat::storage {
namespace {

namespace fs = std::filesystem;

fs::path journal_dir(const std::string& db_path) { return db_path + ".journal"; }

struct Closer {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Handle = std::unique_ptr<sqlite3, Closer>;

Handle open_raw(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    Handle db(raw);  // owned before anything can throw, even when the open failed
    if (rc != SQLITE_OK) throw Error("cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
    sqlite3_busy_timeout(raw, 5000);
    return db;
}

// Runs the whole backup as one step: one read snapshot of the source (in WAL mode writers go
// on meanwhile), where small steps would start again each time the broker commits.
void copy(sqlite3* from, sqlite3* to, const std::string& what) {
    sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) throw Error(what + ": " + sqlite3_errmsg(to));
    int rc;
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) throw Error(what + ": " + sqlite3_errstr(rc));
}

std::string single_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) throw Error(sqlite3_errmsg(db));
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    if (sqlite3_step(raw) != SQLITE_ROW) throw Error(std::string(sql) + ": " + sqlite3_errmsg(db));
    auto text = sqlite3_column_text(raw, 0);
    return text ? reinterpret_cast<const char*>(text) : "";
}

// Where the last batch written to the journal ends; nullopt when the journal holds none.
std::optional<JournalPosition> journal_end(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return std::nullopt;
    auto segments = journal_segments(dir);
    for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        std::vector<ReadRecord> records;
        try {
            records = read_journal_segment(*it);
        } catch (const Error&) {
            if (!fs::exists(*it, ec)) continue;  // imported and deleted meanwhile
            throw;
        }
        if (!records.empty()) return JournalPosition{journal_segment_number(*it), records.back().end};
    }
    return std::nullopt;
}

bool imported_up_to(Database& db, const JournalPosition& end) {
    Statement mark(db, "SELECT segment, offset FROM journal_mark");
    if (!mark.step()) return false;
    auto segment = static_cast<uint64_t>(mark.int_at(0));
    auto offset = static_cast<uint64_t>(mark.int_at(1));
    return segment > end.segment || (segment == end.segment && offset >= end.offset);
}

// PostgreSQL has its own tools for this (pg_dump, pg_basebackup; README "PostgreSQL").
void require_sqlite(const std::string& location) {
    if (backend_of(location) != Backend::sqlite) {
        throw Error("backup and restore work on a SQLite file; for PostgreSQL use pg_dump or pg_basebackup");
    }
}

int open_lock_file(const std::string& db_path) {
    int fd = ::open((db_path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw Error("cannot open " + db_path + ".lock: " + std::strerror(errno));
    return fd;
}

// The lock file held exclusively for a restore; closing it unlocks.
class ExclusiveUse {
public:
    explicit ExclusiveUse(const std::string& db_path) : fd_(open_lock_file(db_path)) {
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            throw Error("the broker, bridge or sidecar is running on " + db_path + ": stop them before a restore");
        }
    }
    ~ExclusiveUse() { ::close(fd_); }
    ExclusiveUse(const ExclusiveUse&) = delete;
    ExclusiveUse& operator=(const ExclusiveUse&) = delete;

private:
    int fd_;
};

}  // namespace

InUseLock::InUseLock(const std::string& db_path) {
    if (backend_of(db_path) != Backend::sqlite) return;  // restore is for SQLite files only
    fd_ = open_lock_file(db_path);
    int rc;
    while ((rc = ::flock(fd_, LOCK_SH)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        int err = errno;
        ::close(fd_);
        throw Error("cannot lock " + db_path + ".lock: " + std::strerror(err));
    }
}

InUseLock::~InUseLock() {
    if (fd_ >= 0) ::close(fd_);
}

void backup_database(const std::string& db_path, const fs::path& dest, std::chrono::milliseconds import_wait) {
    require_sqlite(db_path);
    std::error_code ec;
    if (fs::exists(dest, ec)) throw Error(dest.string() + " exists already; give a new file");
    Database db(db_path);
    if (auto end = journal_end(journal_dir(db_path))) {
        auto deadline = std::chrono::steady_clock::now() + import_wait;
        while (!imported_up_to(db, *end)) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw Error("the journal is not imported into SQLite yet (is the broker running? it imports at start)");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    Handle in = open_raw(db_path, SQLITE_OPEN_READONLY);
    Handle out = open_raw(dest.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    try {
        copy(in.get(), out.get(), "backup to " + dest.string());
    } catch (...) {
        out.reset();
        fs::remove(dest, ec);
        throw;
    }
}

void restore_database(const fs::path& source, const std::string& db_path) {
    require_sqlite(db_path);
    ExclusiveUse nothing_runs(db_path);
    std::error_code ec;
    if (fs::exists(journal_dir(db_path), ec) && !journal_segments(journal_dir(db_path)).empty()) {
        throw Error("the journal " + journal_dir(db_path).string() +
                    " holds records not imported yet: start and stop the broker once, then restore");
    }
    if (!fs::is_regular_file(source, ec)) throw Error("no backup file " + source.string());
    Handle in = open_raw(source.string(), SQLITE_OPEN_READONLY);
    std::string integrity = single_text(in.get(), "PRAGMA integrity_check");
    if (integrity != "ok") throw Error(source.string() + " fails PRAGMA integrity_check: " + integrity);
    int version = std::stoi(single_text(in.get(), "SELECT COALESCE(MAX(version), 0) FROM schema_version"));
    if (version > static_cast<int>(migrations().size())) {
        throw Error(source.string() + " has schema version " + std::to_string(version) + ", newer than this build knows");
    }
    Handle out = open_raw(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    copy(in.get(), out.get(), "restore into " + db_path);
}

}  // namespace chat::storage
