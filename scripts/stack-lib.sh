# Functions scripts/dev-up.sh and scripts/cluster-up.sh share; sourced from the repository root.

pg_bin=/usr/lib/postgresql/15/bin

# as_pg CMD...: runs a PostgreSQL tool, as user postgres when root (the server refuses root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_up DIR PORT: starts the local cluster in DIR (made on first use; as root, DIR belongs to
# postgres, recursively: a cluster an earlier dev-up.sh handed to mosquitto is given back) on
# 127.0.0.1:PORT.
pg_up() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$pg_bin/initdb" -D "$PWD/$dir/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
  fi
  as_pg "$pg_bin/pg_ctl" -D "$PWD/$dir/data" -l "$PWD/$dir/server.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -k $PWD/$dir" >/dev/null
}

# pg_down DIR: stops the cluster in DIR (nothing if it is not running).
pg_down() {
  as_pg "$pg_bin/pg_ctl" -D "$PWD/$1/data" -m fast -w stop >/dev/null || true
}

# pg_database PORT NAME: creates database NAME on the cluster at 127.0.0.1:PORT unless it exists.
pg_database() {
  psql -q -h 127.0.0.1 -p "$1" -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = '$2'" | grep -q 1 ||
    psql -q -h 127.0.0.1 -p "$1" -U postgres -c "CREATE DATABASE $2"
}

# wait_port PORT: waits up to 5 s until something listens on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
