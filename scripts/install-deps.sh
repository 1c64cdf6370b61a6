#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, skipping what is already there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev openssl
  libsqlite3-dev sqlite3 libsodium-dev libcpp-httplib-dev nlohmann-json3-dev catch2
  libomemo-c-dev
  curl procps jq
  coturn   # the TURN/STUN relay for calls (turnserver; turnutils_uclient in its tests)
  clang-14 libclang-rt-14-dev   # fuzz/: clang++-14 with libFuzzer and the sanitizer runtimes
  libpq-dev postgresql-15       # the PostgreSQL backend; the server for tests and CHAT_DB=postgres
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
