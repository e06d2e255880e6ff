#!/usr/bin/env bash
# Ensures a RabbitMQ broker accepts AMQP connections on 127.0.0.1:5672:
#   reachable already    -> use it;
#   installed, stopped   -> start it;
#   not installed        -> install Debian's rabbitmq-server, then start it.
# Then waits until the broker answers the AMQP protocol header.
set -euo pipefail

HOST="${RABBITMQ_HOST:-127.0.0.1}"
PORT="${RABBITMQ_PORT:-5672}"
WAIT_SECONDS="${RABBITMQ_WAIT_SECONDS:-90}"

log() { echo "ensure-rabbitmq: $*" >&2; }

# amqp_ready sends the AMQP 0-9-1 protocol header; a broker answers with a
# connection.start method frame, whose first byte is the frame type 1.
amqp_ready() {
  local byte
  { exec 3<>"/dev/tcp/${HOST}/${PORT}"; } 2>/dev/null || return 1
  printf 'AMQP\x00\x00\x09\x01' >&3
  IFS= read -r -t 5 -N 1 byte <&3 || { exec 3<&-; return 1; }
  exec 3<&-
  [[ "$byte" == $'\x01' ]]
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if amqp_ready; then
  log "broker ready at ${HOST}:${PORT}"
  exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1 && [[ ! -x /usr/sbin/rabbitmq-server ]]; then
  log "rabbitmq-server not installed; installing Debian's package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi

log "starting rabbitmq-server"
# The package's service may already be starting; -detached fails harmlessly then.
as_root env PATH="/usr/sbin:/usr/bin:/sbin:/bin" rabbitmq-server -detached >/dev/null 2>&1 || true

for ((i = 0; i < WAIT_SECONDS; i++)); do
  if amqp_ready; then
    log "broker ready at ${HOST}:${PORT} after ${i}s"
    exit 0
  fi
  sleep 1
done
log "broker did not accept AMQP connections on ${HOST}:${PORT} within ${WAIT_SECONDS}s"
exit 1
