#!/usr/bin/env bash
# Benchmark of auth-core's hot paths through HTTP on SQLite, PostgreSQL and MariaDB.
# Needs: a release build (cargo build --release -p auth-core), npm ci in this folder,
# psql and mysql clients, the servers of .ci/run. Prints a markdown table.
# Sign-in runs with BCRYPT_LOG_ROUNDS=4 so that hashing does not dominate; the cost of
# hashing at the default cost 11 is measured separately (last rows).
set -euo pipefail
cd "$(dirname "$0")"
E2E="$(pwd)"
BIN="$(realpath "${AUTH_CORE_BIN:-../../target/release/auth-core}")"
KEY="bench-api-key-0123456789abcdef"
PORT="${PORT:-35690}"
WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK" # the SQLite default file lands here

start() { # extra environment assignments...
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/hello"; then
    echo "port $PORT is already in use" >&2; exit 1
  fi
  env -u POSTGRESQL_CONNECTION_URI -u MYSQL_CONNECTION_URI -u DATABASE_URL \
    API_KEYS="$KEY" RUST_LOG=warn "$@" "$BIN" --host 127.0.0.1 --port "$PORT" \
    >"$WORK/core.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/hello" && return 0
    kill -0 "$PID" 2>/dev/null || { echo "auth-core exited at start-up" >&2; exit 1; }
    sleep 0.1
  done
  echo "auth-core did not start" >&2; exit 1
}
stop() {
  kill "$PID" || { echo "auth-core had already exited:" >&2; cat "$WORK/core.log" >&2; exit 1; }
  for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  PID=""
  PORT=$((PORT + 1))
}

echo "| backend | operation | c | req/s | p50 ms | p99 ms |"
echo "|---|---|---|---|---|---|"
SCHEMA="bench_$$"
DB="bench_$$"
psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE SCHEMA $SCHEMA" >/dev/null
mysql -h 127.0.0.1 -u root -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
trap 'cleanup; psql -q -h 127.0.0.1 -U postgres -d test -c "DROP SCHEMA IF EXISTS '"$SCHEMA"' CASCADE" >/dev/null 2>&1; mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS '"$DB"'"' EXIT

start BCRYPT_LOG_ROUNDS=4
CORE="http://127.0.0.1:$PORT" API_KEY="$KEY" LABEL=sqlite node "$E2E/bench.js"; stop
start BCRYPT_LOG_ROUNDS=4 POSTGRESQL_CONNECTION_URI="postgresql://postgres@127.0.0.1:5432/test" POSTGRESQL_TABLE_SCHEMA="$SCHEMA"
CORE="http://127.0.0.1:$PORT" API_KEY="$KEY" LABEL=postgresql node "$E2E/bench.js"; stop
start BCRYPT_LOG_ROUNDS=4 MYSQL_CONNECTION_URI="mysql://root@127.0.0.1:3306/$DB"
CORE="http://127.0.0.1:$PORT" API_KEY="$KEY" LABEL=mariadb node "$E2E/bench.js"; stop
# Hashing, reported apart: sign-in at the default bcrypt cost 11 on SQLite.
start
CORE="http://127.0.0.1:$PORT" API_KEY="$KEY" LABEL="sqlite, bcrypt cost 11" LEVELS=1,4 OPS="sign in" node "$E2E/bench.js"; stop
