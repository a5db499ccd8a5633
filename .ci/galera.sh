#!/usr/bin/env bash
# Starts a three-node MariaDB Galera cluster on loopback for the Galera tests, if it
# is not running already (idempotent; safe to run concurrently: it takes a lock):
#
#   - three `mariadbd` processes (a copy of the binary named `mariadbd-galera`, so
#     that `pidof mariadbd` and `start-stop-daemon --exec /usr/sbin/mariadbd`, how
#     the main server is found and restarted, never mistake them for it), client
#     ports 4306, 4307, 4308;
#   - Galera 4 (`galera-4`, installed with apt-get if missing, with `rsync` for the
#     state transfer): gcomm on 127.0.0.1:4567/4577/4587, IST on 4568/4578/4588, SST
#     (rsync) on 4444/4454/4464; node 1 bootstraps the cluster
#     (`--wsrep-new-cluster`), nodes 2 and 3 join it and receive its data by rsync;
#   - `binlog_format=ROW`, `innodb_autoinc_lock_mode=2`, durability off (test data).
#
# Everything lives under $GALERA_DIR (default /tmp/auth-storage-galera).
# `galera.sh stop` stops the nodes (the datadirs stay; the next start bootstraps
# again from node 1, whose state is marked safe to bootstrap).
# Prints the URIs the tests read (as `export` lines) at the end: GALERA_TEST_URIS,
# the three nodes separated by spaces.
set -euo pipefail

DIR="${GALERA_DIR:-/tmp/auth-storage-galera}"
PROVIDER=/usr/lib/galera/libgalera_smm.so
NODES=(1 2 3)
client_port() { echo $((4305 + $1)); }
gcomm_port() { echo $((4557 + 10 * $1)); }
ist_port() { echo $((4558 + 10 * $1)); }
sst_port() { echo $((4434 + 10 * $1)); }

log() { printf '== galera: %s\n' "$*" >&2; }

mkdir -p "$DIR"
chmod 755 "$DIR"
exec 9>"$DIR/.lock"
flock 9

alive() { mysqladmin -h 127.0.0.1 -P "$(client_port "$1")" -u root --connect-timeout=2 ping >/dev/null 2>&1; }
sock() { echo "$DIR/node$1/mariadbd.sock"; }
wsrep_status() {
  mysql --socket="$(sock "$1")" -u root -N -B -e \
    "SELECT CONCAT(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='$2'" 2>/dev/null || true
}

stop_nodes() {
  for n in 3 2 1; do
    local pid="$DIR/node$n.pid"
    if [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; then
      for _ in $(seq 1 60); do kill -0 "$(cat "$pid")" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$pid"
  done
}

if [ "${1:-}" = "stop" ]; then
  stop_nodes
  exit 0
fi

install_missing() {
  local missing=()
  [ -f "$PROVIDER" ] || missing+=(galera-4)
  command -v rsync >/dev/null || missing+=(rsync)
  command -v mariadb-install-db >/dev/null || missing+=(mariadb-server)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; }
  fi
}

write_config() {
  local n=$1 d="$DIR/node$1"
  local peers=""
  for m in "${NODES[@]}"; do peers="${peers:+$peers,}127.0.0.1:$(gcomm_port "$m")"; done
  cat >"$DIR/node$n.cnf" <<EOF
[mysqld]
basedir = /usr
lc-messages-dir = /usr/share/mysql
plugin-dir = /usr/lib/mysql/plugin
user = mysql
datadir = $d
port = $(client_port "$n")
bind-address = 127.0.0.1
socket = $(sock "$n")
pid-file = $d/mariadbd.pid
log-error = $DIR/node$n.err
skip-name-resolve
max-connections = 300
innodb-buffer-pool-size = 64M
innodb-log-file-size = 32M
innodb-flush-log-at-trx-commit = 0
innodb-doublewrite = 0
binlog-format = ROW
default-storage-engine = InnoDB
innodb-autoinc-lock-mode = 2
wsrep-on = ON
wsrep-provider = $PROVIDER
wsrep-cluster-name = auth-storage-test
wsrep-cluster-address = gcomm://$peers
wsrep-node-name = node$n
wsrep-node-address = 127.0.0.1:$(gcomm_port "$n")
wsrep-provider-options = "gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=32M;evs.suspect_timeout=PT5S;evs.inactive_timeout=PT10S"
wsrep-sst-method = rsync
wsrep-sst-receive-address = 127.0.0.1:$(sst_port "$n")
wsrep-slave-threads = 2
EOF
}

start_node() {
  local n=$1 d="$DIR/node$1"
  shift
  rm -f "$(sock "$n")"
  start-stop-daemon --start --background --make-pidfile --pidfile "$DIR/node$n.pid" \
    --exec "$DIR/bin/mariadbd-galera" -- --defaults-file="$DIR/node$n.cnf" "$@" 9>&-
}

wait_synced() {
  local n=$1
  for _ in $(seq 1 240); do
    if [ "$(wsrep_status "$n" WSREP_LOCAL_STATE_COMMENT)" = "Synced" ] && alive "$n"; then return 0; fi
    if ! kill -0 "$(cat "$DIR/node$n.pid" 2>/dev/null)" 2>/dev/null; then break; fi
    sleep 0.25
  done
  echo "Galera node $n did not reach Synced; see $DIR/node$n.err" >&2
  tail -n 30 "$DIR/node$n.err" >&2 || true
  exit 1
}

all_synced() {
  for n in "${NODES[@]}"; do
    alive "$n" || return 1
    [ "$(wsrep_status "$n" WSREP_LOCAL_STATE_COMMENT)" = "Synced" ] || return 1
  done
  [ "$(wsrep_status 1 WSREP_CLUSTER_SIZE)" = "${#NODES[@]}" ]
}

if ! all_synced; then
  install_missing
  stop_nodes
  mkdir -p "$DIR/bin"
  cmp -s /usr/sbin/mariadbd "$DIR/bin/mariadbd-galera" || cp /usr/sbin/mariadbd "$DIR/bin/mariadbd-galera"
  for n in "${NODES[@]}"; do write_config "$n"; done
  # Node 1: a fresh datadir with the users the tests connect as, bootstrapped.
  if [ ! -d "$DIR/node1/mysql" ]; then
    log "mariadb-install-db in $DIR/node1"
    rm -rf "$DIR/node1"
    mkdir -p "$DIR/node1"
    chown mysql:mysql "$DIR/node1"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DIR/node1" \
      --auth-root-authentication-method=normal --skip-test-db >/dev/null
    fresh=1
  else
    fresh=0
    # Whatever state the last stop left, node 1 starts the new cluster.
    [ -f "$DIR/node1/grastate.dat" ] && sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$DIR/node1/grastate.dat"
  fi
  log "bootstrapping node 1 on 127.0.0.1:$(client_port 1)"
  start_node 1 --wsrep-new-cluster
  wait_synced 1
  if [ "$fresh" = 1 ]; then
    mysql --socket="$(sock 1)" -u root <<'EOF'
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
EOF
  fi
  # Nodes 2 and 3 join (rsync SST into an empty datadir, or IST if they have state);
  # one at a time: the donor is blocked while it sends.
  for n in 2 3; do
    mkdir -p "$DIR/node$n"
    chown mysql:mysql "$DIR/node$n"
    log "starting node $n on 127.0.0.1:$(client_port "$n")"
    start_node "$n"
    wait_synced "$n"
  done
  all_synced || { echo "the Galera cluster did not form (see $DIR/node*.err)" >&2; exit 1; }
fi

uris=""
for n in "${NODES[@]}"; do uris="${uris:+$uris }mysql://root@127.0.0.1:$(client_port "$n")/test"; done
echo "export GALERA_TEST_URIS='$uris'"
