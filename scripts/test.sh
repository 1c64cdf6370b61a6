#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the normal build, then
# the same suite under AddressSanitizer + UndefinedBehaviorSanitizer, then each fuzz
# target briefly over its seeds and its saved crash inputs (build-fuzz/, clang).
# Each storage-touching test runs on SQLite (`name: case`, label sqlite) and on PostgreSQL
# (`name.pg: case`, label postgres) against one throwaway cluster per ctest run (build/pg-test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
(cd build && ctest -j2 --output-on-failure)
scripts/build.sh asan
# Both backends here too (the PostgreSQL twins add about 10 minutes on 2 cores).
(cd build-asan && LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" ctest -j2 --output-on-failure)
scripts/build.sh fuzz
(cd build-fuzz && ctest -j2 --output-on-failure)
