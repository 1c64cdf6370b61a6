#!/usr/bin/env bash
# Builds (if needed) and runs every benchmark in bench/ with short sizes, then prints one table of
# their RESULT lines: figure, baseline from the same run, ratio, target. scripts/bench.sh [regex]
# runs only the benches whose command matches the regex. Full logs: build/bench-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."

# One line per bench: the command under build/bench/ with its short default sizes.
benches=(
  "chat-bench-sidecar --registrations 100 --concurrency 16 --media-mb 16 --rounds 1"
  "chat-bench-receipt 100"
  "chat-bench-connect"
  "chat-bench-link"
  "chat-bench-cluster --messages 1000"
  "chat-bench-e2e"
)
# Benches of the database path, run once per backend (--backend sqlite, then postgres: a
# throwaway cluster with fsync off); their figure names get the backend appended (.sqlite,
# .postgres). The plugin's import cost per message (1000 users, in-process), the broker's
# throughput against bare mosquitto, group fan-out to 100 and 1000 members, replay of 10k entries.
per_backend=(
  "chat-bench-broker --plugin-only 20000"
  "chat-bench-broker 50000 --rounds 3"
  "chat-bench-bridge --members 100,1000 --rounds 5"
  "chat-bench-replay 10000"
)
backends=(sqlite postgres)

filter=${1:-.}
scripts/build.sh release >/dev/null || { echo "bench.sh: build failed" >&2; exit 1; }
# Other work on the machine moves every figure: the load before the run is printed with the table.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
logs=build/bench-logs
mkdir -p "$logs"
results=$logs/results.txt
: >"$results"
failed=()
# run_bench COMMAND [SUFFIX]: runs one bench, gathers its RESULT lines with SUFFIX appended to the names.
run_bench() {
  local bench=$1 suffix=${2:-} log
  [[ $bench =~ $filter ]] || return 0
  log=$logs/$(tr -c 'A-Za-z0-9.-' '_' <<<"$bench").log
  echo "== $bench" >&2
  # Each bench prints its own report (kept in the log) and RESULT lines (gathered).
  if ! build/bench/$bench >"$log" 2>&1; then
    failed+=("$bench")
    echo "   FAILED, see $log" >&2
  fi
  awk -v suffix="$suffix" '$1 == "RESULT" { $2 = $2 suffix; print }' "$log" >>"$results"
}
for bench in "${benches[@]}"; do run_bench "$bench"; done
for bench in "${per_backend[@]}"; do
  for backend in "${backends[@]}"; do run_bench "$bench --backend $backend" ".$backend"; done
done
# The broker's throughput on PostgreSQL against SQLite (target: within 10%).
awk '$2 == "broker.saturate.sqlite" { s = $3 } $2 == "broker.saturate.postgres" { p = $3 }
     END { if (s && p) printf "RESULT broker.saturate.postgres_vs_sqlite %s msg/s %s %.3f >=0.9\n", p, s, p / s }' \
  "$results" >>"$results.tmp" && cat "$results.tmp" >>"$results" && rm -f "$results.tmp"

echo
echo "bench results, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) x $(lscpu | sed -n 's/^Model name: *//p'), load average before the run $load_before"
awk '
  function met(value, target,   bound) {
    if (target == "-" || value == "-") return ""
    bound = substr(target, 3) + 0
    if (substr(target, 1, 2) == "<=") return value + 0 <= bound ? "yes" : "NO"
    if (substr(target, 1, 2) == ">=") return value + 0 >= bound ? "yes" : "NO"
    return "?"
  }
  BEGIN { printf "%-52s %10s %-16s %10s %8s %8s %4s\n", "figure", "value", "unit", "baseline", "ratio", "target", "met" }
  {
    # RESULT name figure unit baseline ratio target; the target bounds the ratio when there is one.
    checked = $6 == "-" ? $3 : $6
    printf "%-52s %10s %-16s %10s %8s %8s %4s\n", $2, $3, $4, $5, $6, $7, met(checked, $7)
  }' "$results"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
