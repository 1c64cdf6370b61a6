// Throwaway PostgreSQL 15 clusters for tests, and the database location a test uses: a SQLite
// file, or (CHAT_TEST_DB=postgres) a fresh PostgreSQL database per test.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace chat::testing {

// A cluster in `dir` (initdb, then pg_ctl start on a free loopback port; as the postgres user
// when running as root, since the server refuses root). Stopped (immediate) on destruction.
class PgCluster {
public:
    explicit PgCluster(std::filesystem::path dir);
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    int port() const { return port_; }
    // Starts a cluster in `dir` and returns its port, for the CTest fixture (chat-test-pg),
    // whose cleanup, another process, stops it: the run's one cluster.
    static int start(const std::filesystem::path& dir);
    // Stops the server in `dir`; never throws.
    static void stop(const std::filesystem::path& dir) noexcept;
    // The port of the server running in `dir` (written at start).
    static int port_of(const std::filesystem::path& dir);

private:
    std::filesystem::path dir_;
    int port_ = 0;
};

// The URL of database `name` on a cluster listening on 127.0.0.1:port.
std::string pg_url(int port, const std::string& name);

// Whether this test run uses PostgreSQL: CHAT_TEST_DB=postgres[:DIR] (set by CTest for the `.pg`
// twins, with the folder of the run's cluster).
bool testing_postgres();

// The database one test uses, dropped on destruction: on PostgreSQL a new database on the run's
// cluster (CHAT_TEST_PG_DIR, started by the CTest fixture) or, without one, on a cluster this
// process starts for itself; on SQLite the file `sqlite_path`. Not for use from several threads.
class TestDatabase {
public:
    explicit TestDatabase(std::filesystem::path sqlite_path);
    ~TestDatabase();
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;
    // What Database, the plugin (db_url / db_path), the bridge, sidecar and chatctl open.
    const std::string& location() const { return location_; }
    bool postgres() const { return port_ != 0; }

private:
    std::string location_;
    std::string name_;
    int port_ = 0;
};

}  // namespace chat::testing
