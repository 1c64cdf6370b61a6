#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole stack on localhost in the
# foreground: mosquitto + plugin on 127.0.0.1:1883 (mosquitto.conf), with the
# SQLite database in var/; MQTT over TLS on 8883 with a development CA (var/tls/ca.crt).
# CHAT_DB=postgres: the same stack on a local PostgreSQL 15 cluster in var/pg (127.0.0.1:5433,
# database chat) instead of var/chat.db; the journal stays in var/chat.db.journal.
# Ctrl-C stops everything it started (the PostgreSQL cluster too).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stack-lib.sh
scripts/install-deps.sh
mkdir -p var
# The build's output goes to a log; only a failure shows its end.
echo "building (log: var/build.log) ..."
scripts/build.sh release > var/build.log 2>&1 || { tail -n 40 var/build.log; exit 1; }
scripts/make-secrets.sh
broker_conf=mosquitto.conf
# Started as root, mosquitto drops to user 'mosquitto' before loading the plugin. That
# user then owns the data folder (SQLite hands root-created WAL files to the db's owner).
# If it cannot reach the checkout at all (e.g. a clone under /root), run the broker as
# root instead, from a copy of mosquitto.conf with "user root" added.
if [ "$(id -u)" -eq 0 ]; then
  touch var/chat.db
  if runuser -u mosquitto -- test -r "$PWD/build/broker-plugin/chat_plugin.so" 2>/dev/null; then
    # All but the PostgreSQL cluster (CHAT_DB=postgres), which must stay the postgres user's.
    find var -path var/pg -prune -o -exec chown mosquitto: {} +
  else
    broker_conf=var/mosquitto.root.conf
    { cat mosquitto.conf; echo "user root"; } > "$broker_conf"
    echo "note: user 'mosquitto' cannot read $PWD; running the broker as root ($broker_conf)"
  fi
fi

db_args=(--db var/chat.db)
pg_stop() { :; }
if [ "${CHAT_DB:-sqlite}" = postgres ]; then
  pg_port=${CHAT_PG_PORT:-5433}
  pg_up var/pg "$pg_port"
  pg_stop() { pg_down var/pg; }
  db_url="postgresql://postgres@127.0.0.1:$pg_port/chat"
  pg_database "$pg_port" chat
  db_args=(--db-url "$db_url")
  broker_pg_conf=var/mosquitto.pg.conf
  { cat "$broker_conf"; echo "plugin_opt_db_url $db_url"; } > "$broker_pg_conf"
  broker_conf=$broker_pg_conf
fi

pids=()
# Once, whichever comes first: Ctrl-C/TERM or the end of the script.
stop() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pg_stop; }
trap stop EXIT INT TERM

mosquitto -c "$broker_conf" &
pids+=($!)

# The TURN relay for call media (coturn, loopback 3478), its config made from turnserver.conf
# with the generated secret; the sidecar signs credentials with the same secret file.
(umask 077; sed "s|@TURN_SECRET@|$(head -n1 var/turn.secret)|" turnserver.conf > var/turnserver.conf)
turnserver -c var/turnserver.conf > var/turnserver.log 2>&1 &
pids+=($!)

# The bridge (group fan-out, sync replay, receipts, expiry, push hook) logs in with the
# bridge identity from the broker config, once the broker listens.
wait_port 1883 || true
build/bridge/chat-bridge --mosquitto-conf "$broker_conf" "${db_args[@]}" --metrics-port 9102 ${CHAT_PUSH_URL:+--push-url "$CHAT_PUSH_URL"} \
  ${CHAT_PUSH_GATEWAY:+--push-gateway "$CHAT_PUSH_GATEWAY"} &
pids+=($!)

# The HTTP sidecar (registration, keys, groups, blocks, presence, media) on 127.0.0.1:8080;
# SMS codes go to var/sms-outbox.log unless CHAT_SMS_WEBHOOK names a gateway URL.
build/sidecar/chat-sidecar --data-dir var "${db_args[@]}" --turn-secret-file var/turn.secret ${CHAT_SMS_WEBHOOK:+--sms-webhook "$CHAT_SMS_WEBHOOK"} &
pids+=($!)

echo "MQTT    127.0.0.1:1883 (TLS 0.0.0.0:8883, CA var/tls/ca.crt)  mosquitto + chat_plugin.so"
echo "HTTP    http://127.0.0.1:8080                                chat-sidecar"
echo "TURN    127.0.0.1:3478 (STUN/TURN, TURN REST credentials)     coturn"
echo "bridge  MQTT client of the broker                            chat-bridge"
echo "metrics http://127.0.0.1:9101/metrics (broker), :9102 (bridge), :8080/metrics (sidecar)"
echo "data    ${db_url:-var/chat.db}, SMS codes in var/sms-outbox.log (Ctrl-C stops everything)"
wait -n
