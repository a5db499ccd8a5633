#!/usr/bin/env bash
# Starts a PostgreSQL primary and a streaming read replica on loopback for the
# read-replica tests, if they are not running already (idempotent; safe to run
# concurrently: it takes a lock):
#
#   - the primary on 127.0.0.1:5440 (wal_level=replica, trust auth, replication
#     connections from 127.0.0.1 allowed), durability off (test data);
#   - the replica on 127.0.0.1:5441, made by `pg_basebackup -R` from the primary
#     (standby.signal + primary_conninfo), hot_standby on, streaming replication;
#   - Debian's PostgreSQL (the newest /usr/lib/postgresql/*/bin), run as user
#     postgres; nothing else is installed.
#
# Everything lives under $PG_REPLICA_DIR (default /tmp/auth-storage-replica).
# `pg-replica.sh stop` stops both servers, `pg-replica.sh stop-replica` the replica
# only (the datadirs stay; the next start reuses them). Prints the URIs the tests read (as `export` lines) at the end:
# POSTGRES_PRIMARY_URI and POSTGRES_REPLICA_URI (database `test`).
set -euo pipefail

DIR="${PG_REPLICA_DIR:-/tmp/auth-storage-replica}"
PRIMARY_PORT=5440
REPLICA_PORT=5441
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"

log() { printf '== pg-replica: %s\n' "$*" >&2; }

[ -n "$PGBIN" ] || { echo "pg-replica: no PostgreSQL in /usr/lib/postgresql" >&2; exit 1; }
mkdir -p "$DIR"
chmod 755 "$DIR"
exec 9>"$DIR/.lock"
flock 9
# The servers' Unix sockets (outside the datadirs, which pg_basebackup copies).
mkdir -p "$DIR/run"
chown postgres:postgres "$DIR/run"

as_postgres() { runuser -u postgres -- "$@"; }
ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$1"; }
stop_one() {
  if [ -f "$DIR/$1/postmaster.pid" ]; then
    as_postgres "$PGBIN/pg_ctl" -D "$DIR/$1" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  stop) stop_one replica; stop_one primary; exit 0 ;;
  stop-replica) stop_one replica; exit 0 ;;
esac

start_primary() {
  local d="$DIR/primary"
  if ready "$PRIMARY_PORT"; then return; fi
  if [ ! -f "$d/PG_VERSION" ]; then
    log "initdb primary in $d"
    rm -rf "$d" "$DIR/replica"
    mkdir -p "$d"
    chown postgres:postgres "$d"
    as_postgres "$PGBIN/initdb" -D "$d" -U postgres --auth=trust -E UTF8 >/dev/null
    cat >>"$d/postgresql.conf" <<EOF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/run'
wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB
hot_standby = on
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    cat >"$d/pg_hba.conf" <<EOF
local all         all                trust
host  all         all   127.0.0.1/32 trust
host  replication all   127.0.0.1/32 trust
EOF
  fi
  log "starting the primary on 127.0.0.1:$PRIMARY_PORT"
  as_postgres "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start >/dev/null 9>&-
  as_postgres psql -h "$DIR/run" -p "$PRIMARY_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 <<'EOF' >/dev/null
SELECT 'CREATE DATABASE test' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'test')\gexec
EOF
}

start_replica() {
  local d="$DIR/replica"
  if ready "$REPLICA_PORT"; then return; fi
  if [ ! -f "$d/standby.signal" ]; then
    log "pg_basebackup -R from the primary into $d"
    rm -rf "$d"
    mkdir -p "$d"
    chown postgres:postgres "$d"
    chmod 700 "$d"
    as_postgres "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
      -D "$d" -R -X stream -c fast >/dev/null
    cat >>"$d/postgresql.conf" <<EOF
port = $REPLICA_PORT
unix_socket_directories = '$DIR/run'
hot_standby = on
hot_standby_feedback = on
EOF
  fi
  log "starting the replica on 127.0.0.1:$REPLICA_PORT"
  as_postgres "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start >/dev/null 9>&-
  # A replica left paused by an interrupted test would never catch up.
  as_postgres psql -h "$DIR/run" -p "$REPLICA_PORT" -U postgres -d postgres -qAt \
    -c 'SELECT pg_wal_replay_resume()' >/dev/null
}

start_primary
start_replica
# Streaming, and the database `test` replayed.
for _ in $(seq 1 120); do
  if [ "$(as_postgres psql -h "$DIR/run" -p "$REPLICA_PORT" -U postgres -d postgres -qAt \
        -c "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'" 2>/dev/null)" = 1 ] \
     && as_postgres psql -h "$DIR/run" -p "$REPLICA_PORT" -U postgres -d test -qAt -c 'SELECT 1' >/dev/null 2>&1; then
    break
  fi
  sleep 0.25
done
as_postgres psql -h "$DIR/run" -p "$REPLICA_PORT" -U postgres -d test -qAt -c 'SELECT 1' >/dev/null \
  || { echo "pg-replica: the replica is not streaming; see $DIR/replica/server.log" >&2; exit 1; }

cat <<EOF
export POSTGRES_PRIMARY_URI='postgres://postgres@127.0.0.1:$PRIMARY_PORT/test'
export POSTGRES_REPLICA_URI='postgres://postgres@127.0.0.1:$REPLICA_PORT/test'
EOF
