#!/usr/bin/env bash
# Builds (if needed) and runs every benchmark in bench/ with short sizes, then prints one table of
# their RESULT lines: figure, baseline from the same run, ratio, target. scripts/bench.sh [regex]
# runs only the benches whose command matches the regex. Full logs: build/bench-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."

# One line per bench: the command under build/bench/ with its short default sizes.
benches=(
  "chat-bench-broker 50000 --rounds 3"
  "chat-bench-broker --plugin-only 20000"
  "chat-bench-bridge --members 100 --rounds 5"
  "chat-bench-sidecar --registrations 100 --concurrency 16 --media-mb 16 --rounds 1"
  "chat-bench-receipt 100"
  "chat-bench-replay 10000"
  "chat-bench-connect"
  "chat-bench-link"
  "chat-bench-cluster --messages 1000"
)

filter=${1:-.}
scripts/build.sh release >/dev/null || { echo "bench.sh: build failed" >&2; exit 1; }
# Other work on the machine moves every figure: the load before the run is printed with the table.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
logs=build/bench-logs
mkdir -p "$logs"
results=$logs/results.txt
: >"$results"
failed=()
for bench in "${benches[@]}"; do
  [[ $bench =~ $filter ]] || continue
  log=$logs/$(tr -c 'A-Za-z0-9.-' '_' <<<"$bench").log
  echo "== $bench" >&2
  # Each bench prints its own report (kept in the log) and RESULT lines (gathered).
  if ! build/bench/$bench >"$log" 2>&1; then
    failed+=("$bench")
    echo "   FAILED, see $log" >&2
  fi
  grep '^RESULT ' "$log" >>"$results"
done

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
  BEGIN { printf "%-40s %10s %-16s %10s %8s %8s %4s\n", "figure", "value", "unit", "baseline", "ratio", "target", "met" }
  {
    # RESULT name figure unit baseline ratio target; the target bounds the ratio when there is one.
    checked = $6 == "-" ? $3 : $6
    printf "%-40s %10s %-16s %10s %8s %8s %4s\n", $2, $3, $4, $5, $6, $7, met(checked, $7)
  }' "$results"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
