#!/usr/bin/env bash
# Benchmark of auth-core's hot paths through HTTP on SQLite, PostgreSQL and MariaDB,
# each beside its storage floor measured in the same run on the same database (see
# auth-core/examples/http_bench.rs and the "Benchmark" section of auth-core/README.md).
# Needs: cargo build --release -p auth-core --bin auth-core --example http_bench,
# psql and mysql clients, the servers of .ci/run. Prints a markdown table.
# Sign-in runs with BCRYPT_LOG_ROUNDS=4 so that hashing does not dominate; the cost of
# hashing at the default cost 11 is measured separately (last rows).
# BASELINE_BIN=<another auth-core binary>: each backend is also measured on it, first
# (rows labelled "before"). NODE=1: also the Node load generator (bench.js, npm ci
# done) on SQLite, HTTP only, to compare the two generators.
set -euo pipefail
E2E="$(realpath "$(dirname "$0")")"
BIN="$(realpath "${AUTH_CORE_BIN:-$E2E/../../target/release/auth-core}")"
DRIVER="$(realpath "${HTTP_BENCH_BIN:-$E2E/../../target/release/examples/http_bench}")"
BASE="${BASELINE_BIN:+$(realpath "$BASELINE_BIN")}"
KEY="bench-api-key-0123456789abcdef"
PORT="${PORT:-35690}"
WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK" # the SQLite default file lands here

start() { # binary, extra environment assignments...
  local bin="$1"; shift
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/hello"; then
    echo "port $PORT is already in use" >&2; exit 1
  fi
  env -u POSTGRESQL_CONNECTION_URI -u MYSQL_CONNECTION_URI -u DATABASE_URL \
    API_KEYS="$KEY" RUST_LOG=warn "$@" "$bin" --host 127.0.0.1 --port "$PORT" \
    >"$WORK/core.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/hello" && return 0
    kill -0 "$PID" 2>/dev/null || { echo "auth-core exited at start-up:" >&2; cat "$WORK/core.log" >&2; exit 1; }
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
drive() { # label, storage environment assignments... (the core's, for the floor)
  local label="$1"; shift
  env -u POSTGRESQL_CONNECTION_URI -u MYSQL_CONNECTION_URI -u DATABASE_URL \
    CORE="http://127.0.0.1:$PORT" API_KEY="$KEY" LABEL="$label" "$@" "$DRIVER"
}
# One backend: on the baseline binary first if given, then on ours.
backend() { # name, storage environment assignments...
  local name="$1"; shift
  if [ -n "$BASE" ]; then
    start "$BASE" BCRYPT_LOG_ROUNDS=4 "$@"; drive "$name, before" BCRYPT_COST=4 "$@"; stop
  fi
  start "$BIN" BCRYPT_LOG_ROUNDS=4 "$@"; drive "$name" BCRYPT_COST=4 "$@"
  if [ "$name" = sqlite ] && [ "${NODE:-0}" = 1 ]; then
    CORE="http://127.0.0.1:$PORT" API_KEY="$KEY" LABEL="sqlite, Node generator" \
      BENCH_SECONDS=5 node "$E2E/bench.js" | sed 's/ |$/ | - | - | - | - | - |/'
  fi
  stop
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| backend | operation | c | HTTP req/s | p50 ms | p99 ms | floor op/s | floor p50 ms | floor p99 ms | floor/HTTP req/s | HTTP/floor p50 |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
SCHEMA="bench_$$"
DB="bench_$$"
psql -q -h 127.0.0.1 -U postgres -d test -c "CREATE SCHEMA $SCHEMA" >/dev/null
mysql -h 127.0.0.1 -u root -e "CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
# (cd / first: the working directory, $WORK, is gone after cleanup, and psql fails there.)
trap 'cleanup; cd /; psql -q -h 127.0.0.1 -U postgres -d test -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS '"$SCHEMA"' CASCADE" >/dev/null; mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS '"$DB"'"' EXIT

# BACKENDS: a subset, e.g. BACKENDS=mariadb.
for b in ${BACKENDS:-sqlite postgresql mariadb}; do
  case "$b" in
    sqlite) backend sqlite ;;
    postgresql) backend postgresql POSTGRESQL_CONNECTION_URI="postgresql://postgres@127.0.0.1:5432/test" POSTGRESQL_TABLE_SCHEMA="$SCHEMA" ;;
    mariadb) backend mariadb MYSQL_CONNECTION_URI="mysql://root@127.0.0.1:3306/$DB" ;;
    *) echo "unknown backend $b" >&2; exit 1 ;;
  esac
done
# Hashing, reported apart: sign-in at the default bcrypt cost 11 on SQLite (HTTP only).
start "$BIN"
drive "sqlite, bcrypt cost 11" LEVELS=1,4 OPS="sign in" FLOOR=0 BCRYPT_COST=11; stop
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
