#!/usr/bin/env bash
# Starts the extra database services of the connectivity tests, if they are not
# running already (idempotent; safe to run concurrently: it takes a lock):
#
#   - test certificates (openssl CLI): a CA, a second "wrong" CA, a server
#     certificate for `localhost` only (no IP address, so connecting by 127.0.0.1
#     with host-name verification fails), and a client certificate for `certuser`;
#   - a second PostgreSQL cluster on 127.0.0.1:5433 with ssl=on that accepts TLS
#     connections only (hostssl), `certuser` by client certificate;
#   - a second MariaDB server on 127.0.0.1:3307 with TLS and
#     require_secure_transport=ON, `certuser` REQUIRE X509;
#   - PgBouncer in transaction mode on 127.0.0.1:6432 in front of the main
#     PostgreSQL on 5432 (plain text: it is also the "server without TLS").
#
# Everything lives under $EXTRA_SERVERS_DIR (default /tmp/auth-storage-ci); the
# tests find the certificates there. `extra-servers.sh stop` stops the servers.
# Prints the URIs the tests read (as `export` lines) at the end.
set -euo pipefail

DIR="${EXTRA_SERVERS_DIR:-/tmp/auth-storage-ci}"
PG_TLS_PORT=5433
MARIADB_TLS_PORT=3307
PGBOUNCER_PORT=6432
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"

log() { printf '== extra-servers: %s\n' "$*" >&2; }

mkdir -p "$DIR"
chmod 755 "$DIR"
exec 9>"$DIR/.lock"
flock 9

as_postgres() { runuser -u postgres -- "$@"; }

if [ "${1:-}" = "stop" ]; then
  [ -f "$DIR/pg-tls/postmaster.pid" ] && as_postgres "$PGBIN/pg_ctl" -D "$DIR/pg-tls" -m fast stop || true
  [ -f "$DIR/mariadb.pid" ] && kill "$(cat "$DIR/mariadb.pid")" 2>/dev/null || true
  [ -f "$DIR/pgbouncer/pgbouncer.pid" ] && kill "$(cat "$DIR/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
  exit 0
fi

install_missing() {
  local missing=()
  command -v openssl >/dev/null || missing+=(openssl)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  command -v mariadb-install-db >/dev/null || missing+=(mariadb-server)
  [ -n "$PGBIN" ] || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; }
    PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  fi
}

make_certs() {
  local c="$DIR/certs"
  if [ -f "$c/done" ]; then return; fi
  log "creating test certificates in $c"
  rm -rf "$c"
  mkdir -p "$c"
  (
    cd "$c"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=auth-storage test CA" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=auth-storage wrong CA" \
      -keyout wrong-ca.key -out wrong-ca.crt 2>/dev/null
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=certuser" -keyout client.key -out client.csr 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile client.ext -out client.crt 2>/dev/null
    chmod 644 ./*.crt
    chmod 600 ./*.key
    touch done
  )
}

start_pg_tls() {
  local d="$DIR/pg-tls"
  if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_TLS_PORT"; then return; fi
  if [ ! -f "$d/PG_VERSION" ]; then
    log "initdb PostgreSQL (TLS) in $d"
    rm -rf "$d"
    mkdir -p "$d"
    chown postgres:postgres "$d"
    as_postgres "$PGBIN/initdb" -D "$d" -U postgres --auth=trust -E UTF8 >/dev/null
    install -o postgres -g postgres -m 600 "$DIR/certs/server.key" "$d/server.key"
    install -o postgres -g postgres -m 644 "$DIR/certs/server.crt" "$d/server.crt"
    install -o postgres -g postgres -m 644 "$DIR/certs/ca.crt" "$d/ca.crt"
    cat >>"$d/postgresql.conf" <<EOF
port = $PG_TLS_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$d'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.crt'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    cat >"$d/pg_hba.conf" <<EOF
local     all  all                    trust
hostssl   all  certuser  127.0.0.1/32 cert
hostssl   all  all       127.0.0.1/32 trust
hostnossl all  all       0.0.0.0/0    reject
EOF
  fi
  log "starting PostgreSQL (TLS) on 127.0.0.1:$PG_TLS_PORT"
  as_postgres "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start >/dev/null 9>&-
  as_postgres psql -h "$d" -p "$PG_TLS_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 <<'EOF' >/dev/null
SELECT 'CREATE DATABASE test' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'test')\gexec
SELECT 'CREATE ROLE certuser LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'certuser')\gexec
EOF
}

start_mariadb_tls() {
  local d="$DIR/mariadb"
  local sock="$d/mariadbd.sock"
  if mysqladmin -h 127.0.0.1 -P "$MARIADB_TLS_PORT" -u root --connect-timeout=2 ping >/dev/null 2>&1; then return; fi
  if [ ! -d "$d/mysql" ]; then
    log "mariadb-install-db (TLS) in $d"
    rm -rf "$d"
    mkdir -p "$d"
    chown mysql:mysql "$d"
    mariadb-install-db --no-defaults --user=mysql --datadir="$d" \
      --auth-root-authentication-method=normal --skip-test-db >/dev/null
    install -o mysql -g mysql -m 600 "$DIR/certs/server.key" "$d/server.key"
  fi
  log "starting MariaDB (TLS) on 127.0.0.1:$MARIADB_TLS_PORT"
  rm -f "$sock"
  # A copy of the binary under another name, so that `pidof mariadbd` and
  # `start-stop-daemon --exec /usr/sbin/mariadbd` (how the main server is found and
  # restarted, by .ci/run and the restart tests) never mistake this one for it.
  mkdir -p "$DIR/bin"
  cmp -s /usr/sbin/mariadbd "$DIR/bin/mariadbd-tls" || cp /usr/sbin/mariadbd "$DIR/bin/mariadbd-tls"
  start-stop-daemon --start --background --make-pidfile --pidfile "$DIR/mariadb.pid" \
    --exec "$DIR/bin/mariadbd-tls" -- --no-defaults --basedir=/usr \
    --lc-messages-dir=/usr/share/mysql --plugin-dir=/usr/lib/mysql/plugin \
    --user=mysql --datadir="$d" \
    --port="$MARIADB_TLS_PORT" --bind-address=127.0.0.1 --socket="$sock" \
    --pid-file="$d/mariadbd.pid" --log-error="$d/error.log" --skip-name-resolve \
    --ssl-ca="$DIR/certs/ca.crt" --ssl-cert="$DIR/certs/server.crt" --ssl-key="$d/server.key" \
    --require-secure-transport=ON --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --max-connections=500 9>&-
  for _ in $(seq 1 60); do
    mysqladmin --socket="$sock" -u root ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  mysqladmin --socket="$sock" -u root ping >/dev/null 2>&1 \
    || { echo "MariaDB (TLS) did not start; see $d/error.log" >&2; exit 1; }
  mysql --socket="$sock" -u root <<'EOF'
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'certuser'@'127.0.0.1' REQUIRE X509;
GRANT ALL PRIVILEGES ON *.* TO 'certuser'@'127.0.0.1';
CREATE DATABASE IF NOT EXISTS test;
EOF
}

start_pgbouncer() {
  local b="$DIR/pgbouncer"
  mkdir -p "$b"
  # A small server pool per database: the storage's connections must share server
  # connections, as behind a managed pooler, so that anything left on a server
  # connection between transactions (named statements, session settings) shows.
  cat >"$b/pgbouncer.ini.new" <<EOF
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $b/users.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 3
max_db_connections = 3
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $b/pgbouncer.log
pidfile = $b/pgbouncer.pid
EOF
  printf '"postgres" ""\n' >"$b/users.txt"
  local changed=0
  cmp -s "$b/pgbouncer.ini.new" "$b/pgbouncer.ini" || changed=1
  mv "$b/pgbouncer.ini.new" "$b/pgbouncer.ini"
  chown -R postgres:postgres "$b"
  if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGBOUNCER_PORT"; then
    if [ "$changed" = 1 ] && [ -f "$b/pgbouncer.pid" ]; then
      log "reloading the PgBouncer configuration"
      kill -HUP "$(cat "$b/pgbouncer.pid")"
    fi
    return
  fi
  log "starting PgBouncer (transaction mode) on 127.0.0.1:$PGBOUNCER_PORT"
  rm -f "$b/pgbouncer.pid"
  as_postgres pgbouncer -d "$b/pgbouncer.ini" 9>&-
  for _ in $(seq 1 60); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGBOUNCER_PORT" && return
    sleep 0.5
  done
  echo "PgBouncer did not start; see $b/pgbouncer.log" >&2
  exit 1
}

install_missing
make_certs
start_pg_tls
start_mariadb_tls
start_pgbouncer

C="$DIR/certs"
cat <<EOF
export POSTGRES_TLS_TEST_URI='postgres://postgres@localhost:$PG_TLS_PORT/test?sslmode=verify-full&sslrootcert=$C/ca.crt'
export MYSQL_TLS_TEST_URI='mysql://root@localhost:$MARIADB_TLS_PORT/test?ssl-mode=VERIFY_IDENTITY&ssl-ca=$C/ca.crt'
export POSTGRES_PGBOUNCER_TEST_URI='postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/test?pooler=transaction'
export TLS_TEST_CERTS='$C'
EOF
