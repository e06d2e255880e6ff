#!/usr/bin/env bash
# Ensures a PostgreSQL server on 127.0.0.1:5432 lets the user postgres in
# without a password, as the SDK's tests need (they create and drop their
# own databases):
#   answering already            -> use it;
#   installed, stopped           -> start its cluster (the one on that port);
#   not installed                -> install Debian's postgresql, let postgres
#                                   in over local TCP without a password
#                                   (trust), start it.
# Then waits until it answers. It never stops or restarts a running server;
# one that answers but asks for a password is reported, not reconfigured.
# With ORDERSAGA_TEST_POSTGRES_URL set (the tests' server instead), it only
# checks that one.
set -euo pipefail

HOST="${POSTGRES_HOST:-127.0.0.1}"
PORT="${POSTGRES_PORT:-5432}"
WAIT_SECONDS="${POSTGRES_WAIT_SECONDS:-60}"
CONNINFO="${ORDERSAGA_TEST_POSTGRES_URL:-host=${HOST} port=${PORT} user=postgres dbname=postgres}"

log() { echo "ensure-postgres: $*" >&2; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# login_ok: the tests' login works (no password: -w never prompts).
login_ok() {
  command -v psql >/dev/null 2>&1 &&
    PGCONNECT_TIMEOUT=5 psql "$CONNINFO" -w -Atqc 'SELECT 1' >/dev/null 2>&1
}

# answering: the server accepts connections at all.
answering() {
  command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$HOST" -p "$PORT" -t 5
}

if login_ok; then
  log "PostgreSQL ready at ${CONNINFO}"
  exit 0
fi
if [[ -n "${ORDERSAGA_TEST_POSTGRES_URL:-}" ]]; then
  log "ORDERSAGA_TEST_POSTGRES_URL does not let the tests in: ${ORDERSAGA_TEST_POSTGRES_URL}"
  exit 1
fi

installed_now=false
if ! command -v pg_lsclusters >/dev/null 2>&1 || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  log "PostgreSQL not installed; installing Debian's package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  installed_now=true
fi

# The cluster on PORT ("version name port status ..." per line).
read -r version cluster _ status _ < <(pg_lsclusters -h | awk -v port="$PORT" '$3 == port' | head -n 1) || true
if [[ -z "${version:-}" ]]; then
  log "no PostgreSQL cluster listens on port ${PORT} (pg_lsclusters); create one with pg_createcluster -p ${PORT}"
  exit 1
fi

if [[ "$installed_now" == true ]]; then
  # Debian's default asks for a password over TCP; the tests connect as
  # postgres over local TCP without one.
  hba="/etc/postgresql/${version}/${cluster}/pg_hba.conf"
  log "letting postgres in without a password over local TCP (${hba})"
  as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
fi

if [[ "$status" == online* ]]; then
  if [[ "$installed_now" == true ]]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload
  fi
else
  log "starting PostgreSQL ${version}/${cluster}"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
fi

for ((i = 0; i < WAIT_SECONDS; i++)); do
  if login_ok; then
    log "PostgreSQL ready at ${HOST}:${PORT} after ${i}s"
    exit 0
  fi
  if answering; then
    log "PostgreSQL at ${HOST}:${PORT} answers but does not let postgres in without a password;" \
      "the tests need 'host all postgres 127.0.0.1/32 trust' in its pg_hba.conf (then pg_ctlcluster ${version} ${cluster} reload)," \
      "or ORDERSAGA_TEST_POSTGRES_URL naming a server they may use"
    exit 1
  fi
  sleep 1
done
log "PostgreSQL did not accept connections on ${HOST}:${PORT} within ${WAIT_SECONDS}s"
exit 1
