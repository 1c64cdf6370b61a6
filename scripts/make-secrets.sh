#!/usr/bin/env bash
# Creates what a fresh install must not share with anyone, when missing: the bridge secret
# (var/bridge.secret, 0600) and a development CA with a server certificate for localhost
# (var/tls/). Run from the repository root; scripts/dev-up.sh calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var/tls
umask 077
if [ ! -s var/bridge.secret ]; then
  openssl rand -base64 32 | tr -d '\n=' > var/bridge.secret
  echo >> var/bridge.secret
  echo "created var/bridge.secret"
fi
if [ ! -s var/tls/server.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=chat development CA" \
    -keyout var/tls/ca.key -out var/tls/ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout var/tls/server.key -out var/tls/server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > var/tls/server.ext
  openssl x509 -req -in var/tls/server.csr -CA var/tls/ca.crt -CAkey var/tls/ca.key -CAcreateserial \
    -days 825 -extfile var/tls/server.ext -out var/tls/server.crt 2>/dev/null
  rm -f var/tls/server.csr var/tls/server.ext
  chmod 644 var/tls/ca.crt var/tls/server.crt
  echo "created the development CA var/tls/ca.crt and var/tls/server.{crt,key} for localhost"
fi
