#!/usr/bin/env bash
# Configures and builds one build folder: scripts/build.sh [release|asan|fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DCHAT_SANITIZE=ON) ;;
  # The libFuzzer targets only (fuzz/), with clang and their libraries instrumented.
  fuzz) dir=build-fuzz; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 -DCHAT_FUZZ=ON
                               -DBUILD_TESTING=OFF) ;;
  *) echo "usage: scripts/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
# A developer machine with ccache shares compiled objects between checkouts (worktrees).
if command -v ccache >/dev/null; then
  flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(cd .. && pwd)} CCACHE_NOHASHDIR=1
fi
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
if [ "$kind" = fuzz ]; then
  cmake --build "$dir" -j "$(nproc)" --target chat_fuzz_targets
else
  cmake --build "$dir" -j "$(nproc)"
fi
