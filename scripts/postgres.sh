#!/usr/bin/env bash
# Local PostgreSQL from Debian's `postgresql` package: a private cluster for Hookline.
#
#   scripts/postgres.sh install   apt-get install postgresql when it is missing (root only)
#   scripts/postgres.sh start     install if needed, initdb on first start, start, create role + db
#   scripts/postgres.sh status    exit 0 when the server accepts connections
#   scripts/postgres.sh stop      fast shutdown
#
# The cluster lives under $HOOKLINE_POSTGRES_DIR (default $HOOKLINE_RUN_DIR/postgres, i.e.
# .run/postgres), listening on 127.0.0.1:$HOOKLINE_POSTGRES_PORT (default 5433, so that it
# never collides with a system cluster on 5432). Role, password and database are
# HOOKLINE_POSTGRES_USER / _PASSWORD / _DB (default hookline/hookline/hookline).
#
# A user other than root initialises and runs the cluster as themselves. root cannot
# (initdb refuses), so for root the cluster is owned by the `postgres` system user; when the
# checkout is not reachable by other users (e.g. under /root) it then lives under
# /var/tmp/hookline-postgres-<hash of the checkout path> instead. The server binaries come
# from Debian's `postgresql` package: root gets it installed with apt-get, anyone else is
# told to install it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${HOOKLINE_POSTGRES_PORT:-5433}"
RUN_DIR="${HOOKLINE_RUN_DIR:-$ROOT/.run}"

# True when every directory from $1 up to / lets other users (here: postgres) through.
world_traversable() {
  local dir="$1"
  while [ "$dir" != "/" ]; do
    [ -d "$dir" ] || return 1
    [ $(( 0$(stat -c %a "$dir") & 1 )) -eq 1 ] || return 1
    dir="$(dirname "$dir")"
  done
}

if [ "$(id -u)" -eq 0 ]; then AS_ROOT=1; else AS_ROOT=0; fi

if [ -n "${HOOKLINE_POSTGRES_DIR:-}" ]; then
  PG_DIR="$HOOKLINE_POSTGRES_DIR"
elif [ "$AS_ROOT" -eq 0 ] || world_traversable "$(dirname "$RUN_DIR")"; then
  PG_DIR="$RUN_DIR/postgres"
else
  PG_DIR="/var/tmp/hookline-postgres-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
fi
DATA_DIR="$PG_DIR/data"
SOCK_DIR="$PG_DIR/socket"
LOG_FILE="$PG_DIR/postgres.log"
DB_USER="${HOOKLINE_POSTGRES_USER:-hookline}"
DB_PASSWORD="${HOOKLINE_POSTGRES_PASSWORD:-hookline}"
DB_NAME="${HOOKLINE_POSTGRES_DB:-hookline}"

log() { echo "[postgres] $*" >&2; }

bin_dir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# The server's owner runs the server's tools: the postgres user for root, else the caller.
as_postgres() {
  # From /: the checkout may be a directory the postgres user cannot enter.
  if [ "$AS_ROOT" -eq 1 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Only root hands the cluster's directories to the postgres user (and lets it through).
own() {
  if [ "$AS_ROOT" -eq 1 ]; then chown -R postgres:postgres "$@"; fi
}

install() {
  if bin_dir >/dev/null; then return 0; fi
  if [ "$AS_ROOT" -eq 0 ]; then
    log "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb) are missing: install Debian's postgresql package (sudo apt-get install postgresql) and retry"
    exit 1
  fi
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends postgresql >/dev/null
}

init_cluster() {
  if [ -f "$DATA_DIR/PG_VERSION" ]; then return 0; fi
  log "initialising cluster in $DATA_DIR"
  mkdir -p "$PG_DIR" "$SOCK_DIR"
  if [ "$AS_ROOT" -eq 1 ]; then chmod 755 "$RUN_DIR" 2>/dev/null || true; fi
  own "$PG_DIR"
  as_postgres "$(bin_dir)/initdb" -D "$DATA_DIR" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log"
}

psql_admin() {
  as_postgres "$(bin_dir)/psql" -h "$SOCK_DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"
}

ensure_database() {
  psql_admin -d postgres -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
        CREATE ROLE \"$DB_USER\" LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
      END IF;
      ALTER ROLE \"$DB_USER\" CREATEDB;
    END \$\$;" >/dev/null
  if [ -z "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    psql_admin -d postgres -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$DB_USER\"" >/dev/null
  fi
}

healthy() {
  local dir
  dir="$(bin_dir)" || return 1
  "$dir/pg_isready" -q -h 127.0.0.1 -p "$PORT"
}

# A server on the port that lets our role into our database: maybe another checkout's
# cluster. Used as it is (like kafka.sh's healthy broker), never stopped by this checkout.
usable() {
  local dir
  dir="$(bin_dir)" || return 1
  PGPASSWORD="$DB_PASSWORD" PGCONNECT_TIMEOUT=5 "$dir/psql" -h 127.0.0.1 -p "$PORT" \
    -U "$DB_USER" -d "$DB_NAME" -qtA -c "SELECT 1" >/dev/null 2>&1
}

running() {
  [ -f "$DATA_DIR/postmaster.pid" ] && as_postgres "$(bin_dir)/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1
}

start() {
  install
  if ! running && usable; then
    log "a server already serves 127.0.0.1:$PORT with role $DB_USER: using it as it is"
    return 0
  fi
  init_cluster
  if running && healthy; then
    log "already running on 127.0.0.1:$PORT"
  else
    mkdir -p "$SOCK_DIR" && own "$SOCK_DIR"
    log "starting on 127.0.0.1:$PORT"
    as_postgres "$(bin_dir)/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 start \
      -o "-p $PORT -k $SOCK_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" >/dev/null
  fi
  ensure_database
  log "ready (database $DB_NAME, role $DB_USER)"
}

stop() {
  if ! running; then log "not running"; return 0; fi
  log "stopping"
  as_postgres "$(bin_dir)/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >/dev/null
  log "stopped"
}

status() {
  if running && healthy; then log "running and ready on 127.0.0.1:$PORT"; return 0; fi
  if usable; then log "ready on 127.0.0.1:$PORT (a server this checkout did not start)"; return 0; fi
  log "not ready"; return 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 {install|start|stop|status}" >&2; exit 2 ;;
esac
