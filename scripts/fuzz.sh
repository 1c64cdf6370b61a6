#!/usr/bin/env bash
# Builds build-fuzz/ (clang, libFuzzer + ASan/UBSan) and runs every fuzz target for the given
# seconds each (default 60), one after the other: scripts/fuzz.sh [seconds]
# New interesting inputs accumulate in build-fuzz/fuzz/scratch/<target>; a crash input lands
# in build-fuzz/fuzz/crashes/<target>/ (copy it to fuzz/regressions/<target>/ once fixed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
case "$seconds" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [seconds]" >&2; exit 2 ;; esac

scripts/build.sh fuzz
out=build-fuzz/fuzz
# The broker and journal targets write a database and journal per process: tmpfs is faster,
# and what a crashed run leaves behind goes with the next reboot.
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

failed=()
printf '%-22s %12s %10s %8s  %s\n' target execs exec/s new result
for corpus in fuzz/corpus/*/; do
  target=$(basename "$corpus")
  inputs=("$corpus")
  [ -d "fuzz/regressions/$target" ] && inputs+=("fuzz/regressions/$target")
  mkdir -p "$out/scratch/$target" "$out/crashes/$target" "$out/logs"
  log="$out/logs/$target.log"
  result=ok
  "$out/$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$target/" "$out/scratch/$target" "${inputs[@]}" >"$log" 2>&1 || result="CRASH (see $log)"
  stat() { awk -v k="stat::$1:" '$1 == k {print $2}' "$log"; }
  printf '%-22s %12s %10s %8s  %s\n' "$target" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "$(stat new_units_added)" "$result"
  [ "$result" = ok ] || failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashed: ${failed[*]}; inputs in $out/crashes/" >&2
  exit 1
fi
