#!/usr/bin/env bash
# Runs the README's walk-through blocks (a ```sh fence right after a "<!-- walkthrough -->" line)
# in order against a stack started here on free loopback ports, in a fresh folder that stands
# for a fresh clone, and checks every "#> TEXT" line: the output of the command before it must
# contain TEXT. Usage: tests/readme_walkthrough.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    for log in broker bridge sidecar; do echo "--- $log log"; tail -n 30 "$work/$log.log" 2>/dev/null || true; done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# The fresh clone: the build output where the README expects it, an empty var/.
cd "$work"
ln -s "$build" build
mkdir var
mqtt_port=$(free_port)
http_port=$(free_port)
for name in bridge operator; do
  head -c 32 /dev/urandom | base64 > var/$name.secret
  chmod 600 var/$name.secret
done
# The shipped mosquitto.conf on a free port, without the TLS listener (no certificates here) and
# without the fixed metrics port (a running dev stack may hold it).
sed -e "s/^listener 1883 127.0.0.1$/listener $mqtt_port 127.0.0.1/" -e '/^listener 8883/d' \
    -e '/^certfile /d' -e '/^keyfile /d' -e '/^tls_version /d' -e '/^plugin_opt_metrics_port /d' \
    "$src/mosquitto.conf" > var/mosquitto.conf
[ "$(id -u)" -eq 0 ] && echo "user root" >> var/mosquitto.conf
# An ASan build's plugin needs the sanitizer runtimes preloaded into Debian's mosquitto (as the
# test fixtures do); leak reports stay with the unit and integration tests.
runtimes=$(ldd "$build/broker-plugin/chat_plugin.so" | awk '/libasan|libubsan/ {printf "%s%s", sep, $3; sep=":"}')
# ... and the library that starts ASan before the other constructors (tests/support/asan_init_first.cpp).
[ -n "$runtimes" ] && runtimes="$runtimes:$build/tests/libchat_asan_init_first.so"
if [ -n "$runtimes" ]; then
  export ASAN_OPTIONS=detect_leaks=0
  LD_PRELOAD="$runtimes" mosquitto -c var/mosquitto.conf > broker.log 2>&1 &
else
  mosquitto -c var/mosquitto.conf > broker.log 2>&1 &
fi
pids+=($!)
wait_port "$mqtt_port"
build/bridge/chat-bridge --mosquitto-conf var/mosquitto.conf --broker "127.0.0.1:$mqtt_port" --db var/chat.db \
  > bridge.log 2>&1 &
pids+=($!)
build/sidecar/chat-sidecar --data-dir var --db var/chat.db --port "$http_port" > sidecar.log 2>&1 &
pids+=($!)
wait_port "$http_port"

# The blocks, turned into one script: each command's output goes to a file and is shown;
# a "#>" line checks the last output.
awk '
  /^<!-- walkthrough -->$/ { marked = 1; next }
  marked && /^```sh$/ { inside = 1; marked = 0; next }
  inside && /^```$/ { inside = 0; next }
  { marked = 0 }
  inside { print }
' "$src/README.md" > blocks.sh
[ -s blocks.sh ] || { echo "no walk-through blocks found in README.md"; exit 1; }
{
  echo 'set -u'
  echo 'export HTTP=127.0.0.1:'"$http_port"' MQTT_PORT='"$mqtt_port"
  echo 'check() { grep -qF -- "$1" out.txt || { echo "README walk-through: expected output containing: $1"; echo "got:"; cat out.txt; exit 1; }; }'
  cmd=""
  while IFS= read -r line; do
    if [[ "$line" == "#> "* ]]; then
      printf 'check %q\n' "${line#\#> }"
    elif [[ -n "$cmd" ]]; then
      cmd+=$'\n'"$line"
    else
      cmd="$line"
    fi
    # A command is complete unless it ends in a backslash or opens a function body.
    if [[ -n "$cmd" && "$line" != *"\\" ]]; then
      if [[ "$cmd" == *"() {"* && "$line" != "}" ]]; then continue; fi
      if [[ "$cmd" =~ ^[[:space:]]*# ]]; then cmd=""; continue; fi
      printf '{\n%s\n} > out.txt 2>&1\ncat out.txt\n' "$cmd"
      cmd=""
    fi
  done < blocks.sh
  echo 'echo "README walk-through: all steps passed"'
} > walkthrough.sh
timeout 180 bash walkthrough.sh
