#!/usr/bin/env bash
# Runs several broker nodes on loopback in the foreground (README "Running several nodes"):
# PostgreSQL in var/cluster/pg (127.0.0.1:5434, database chat), nodes n1..n3 (mosquitto + plugin,
# configs generated from mosquitto.conf into var/cluster/nN/, MQTT on 127.0.0.1:1883-1885), two
# bridges and the sidecar (HTTP 127.0.0.1:8080) with --cluster. Ctrl-C stops everything.
# Settings (environment): CHAT_NODES (3), CHAT_NODE_PORT (first MQTT port, 1883), CHAT_BRIDGES
# (2), CHAT_LEASE_MS (5000), CHAT_PG_PORT (5434), CHAT_HTTP_PORT (8080).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stack-lib.sh
nodes=${CHAT_NODES:-3}
first_port=${CHAT_NODE_PORT:-1883}
bridges=${CHAT_BRIDGES:-2}
lease_ms=${CHAT_LEASE_MS:-5000}
pg_port=${CHAT_PG_PORT:-5434}
http_port=${CHAT_HTTP_PORT:-8080}

scripts/install-deps.sh
mkdir -p var/cluster
echo "building (log: var/build.log) ..."
scripts/build.sh release > var/build.log 2>&1 || { tail -n 40 var/build.log; exit 1; }
scripts/make-secrets.sh

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pg_down var/cluster/pg; }
trap stop EXIT INT TERM

pg_up var/cluster/pg "$pg_port"
db_url="postgresql://postgres@127.0.0.1:$pg_port/chat"
pg_database "$pg_port" chat

# node_conf N PORT: mosquitto.conf for node nN: its own plain listener (the TLS listener of
# mosquitto.conf is left out: one port per node, loopback only), its own journal folder and
# metrics port, the shared database, and the node's identity and lease.
node_conf() {
  local n=$1 port=$2 dir=var/cluster/n$1
  sed -e "s|^listener 1883 127.0.0.1\$|listener $port 127.0.0.1|" \
      -e '/^listener 8883$/d' -e '/^certfile /d' -e '/^keyfile /d' -e '/^tls_version /d' \
      -e "s|^plugin_opt_db_path .*|plugin_opt_db_path $dir/chat.db|" \
      -e "s|^plugin_opt_metrics_port .*|plugin_opt_metrics_port $((9110 + n))|" mosquitto.conf
  echo "plugin_opt_db_url $db_url"
  echo "plugin_opt_node_id n$n"
  echo "plugin_opt_node_address 127.0.0.1:$port"
  echo "plugin_opt_lease_ms $lease_ms"
  # As root mosquitto would drop to user 'mosquitto', who owns neither var/ nor the secrets.
  if [ "$(id -u)" -eq 0 ]; then echo "user root"; fi
}

for n in $(seq "$nodes"); do
  port=$((first_port + n - 1))
  mkdir -p "var/cluster/n$n"
  node_conf "$n" "$port" > "var/cluster/n$n/mosquitto.conf"
  mosquitto -c "var/cluster/n$n/mosquitto.conf" > "var/cluster/n$n/mosquitto.log" 2>&1 &
  pids+=($!)
done
for n in $(seq "$nodes"); do
  wait_port $((first_port + n - 1)) || { echo "node n$n did not start: var/cluster/n$n/mosquitto.log" >&2; exit 1; }
done

# Each bridge connects to every node in the nodes table (and to nodes added later).
for b in $(seq "$bridges"); do
  build/bridge/chat-bridge --cluster --db-url "$db_url" --user bridge --password-file var/bridge.secret \
    --client-id "chat-bridge-$b" --metrics-port $((9120 + b)) > "var/cluster/bridge-$b.log" 2>&1 &
  pids+=($!)
done

# The sidecar answers each user's home node (verify, GET /v1/me).
build/sidecar/chat-sidecar --port "$http_port" --data-dir var/cluster --db-url "$db_url" --cluster \
  > var/cluster/sidecar.log 2>&1 &
pids+=($!)

for n in $(seq "$nodes"); do
  echo "node n$n  MQTT 127.0.0.1:$((first_port + n - 1))  metrics :$((9110 + n))  log var/cluster/n$n/mosquitto.log"
done
echo "bridges  $bridges x chat-bridge --cluster, logs var/cluster/bridge-N.log, metrics :9121.."
echo "HTTP     http://127.0.0.1:$http_port  chat-sidecar --cluster (SMS codes in var/cluster/sms-outbox.log)"
echo "data     $db_url (psql -h 127.0.0.1 -p $pg_port -U postgres chat); journals in var/cluster/nN/"
echo "Ctrl-C stops everything"
wait -n
