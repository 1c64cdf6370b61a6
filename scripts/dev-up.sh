#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole stack on localhost in the
# foreground: mosquitto + plugin on 127.0.0.1:1883 (mosquitto.conf), with the
# SQLite database in var/. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
mkdir -p var
# Started as root, mosquitto drops to user 'mosquitto' before loading the plugin,
# so that user must own the data folder (SQLite gives root-created WAL files to the db's owner).
if [ "$(id -u)" -eq 0 ]; then
  touch var/chat.db
  chown -R mosquitto: var
fi

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

mosquitto -c mosquitto.conf &
pids+=($!)

echo "stack running: MQTT 127.0.0.1:1883, data in var/ (Ctrl-C to stop)"
wait -n
