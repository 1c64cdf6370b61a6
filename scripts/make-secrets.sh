#!/usr/bin/env bash
# Creates what a fresh install must not share with anyone, when missing: the bridge and
# operator secrets (DIR/bridge.secret, DIR/operator.secret, 0600), the TURN relay's shared secret
# (DIR/turn.secret, 0600) and a development CA with a server certificate for localhost and
# 127.0.0.1 (DIR/tls/). scripts/make-secrets.sh [DIR]; DIR defaults to var/ in the repository.
set -euo pipefail
dir=${1:-"$(dirname "$0")/../var"}
mkdir -p "$dir/tls"
cd "$dir"
umask 077
for name in bridge operator; do
  if [ ! -s $name.secret ]; then
    openssl rand -base64 32 | tr -d '\n=' > $name.secret
    echo >> $name.secret
    echo "created $dir/$name.secret"
  fi
done
if [ ! -s turn.secret ]; then
  openssl rand -hex 32 > turn.secret
  echo "created $dir/turn.secret"
fi
if [ ! -s tls/server.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=chat development CA" \
    -keyout tls/ca.key -out tls/ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout tls/server.key -out tls/server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > tls/server.ext
  openssl x509 -req -in tls/server.csr -CA tls/ca.crt -CAkey tls/ca.key -CAcreateserial \
    -days 825 -extfile tls/server.ext -out tls/server.crt 2>/dev/null
  rm -f tls/server.csr tls/server.ext
  chmod 644 tls/ca.crt tls/server.crt
  echo "created the development CA $dir/tls/ca.crt and $dir/tls/server.{crt,key} for localhost"
fi
