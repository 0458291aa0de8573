#!/usr/bin/env bash
# Start, stop and inspect a local Tansu broker (memory storage) on 127.0.0.1 for development,
# tests and the embedded default, and create Tacit's topics on it.
#
#   scripts/broker.sh start   [--port P] [--partitions N] [--advertise HOST:PORT]
#   scripts/broker.sh stop    [--port P]
#   scripts/broker.sh status  [--port P]
#   scripts/broker.sh topics  [--port P] [--partitions N]   create missing topics (idempotent)
#   scripts/broker.sh reset   [--port P] [--partitions N]   delete and re-create the topics (frees memory)
#   scripts/broker.sh env                                   print `export LD_LIBRARY_PATH=…` for eval
#
# Environment defaults: TACIT_BROKER_PORT (9092), TACIT_PARTITIONS (4), TACIT_TOPICS (space separated).
# Runtime files (pid, log) live in .tools/run/broker-PORT/, which is git-ignored.
# The broker loses everything when it stops (memory engine): see ../shared/docs/kafka.md.
# --advertise lets clients reach the broker through a TCP relay (network-outage tests).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"
root="$TACIT_ROOT"
tansu="$root/.tools/bin/tansu"

port="${TACIT_BROKER_PORT:-9092}"
partitions="${TACIT_PARTITIONS:-4}"
topics="${TACIT_TOPICS:-tacit.behaviors tacit.feedback tacit.recommendations tacit.deadletter}"
advertise=""

cmd="${1:-status}"; shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --partitions) partitions="$2"; shift 2 ;;
    --advertise) advertise="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "broker.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

run="$root/.tools/run/broker-$port"
pidfile="$run/tansu.pid"
logfile="$run/tansu.log"
url="tcp://127.0.0.1:$port"

log() { printf '[broker] %s\n' "$*" >&2; }

is_running() {
  [ -s "$pidfile" ] || return 1
  local pid; pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  # guard against pid reuse: the process must be our tansu binary
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$tansu")" ]
}

# True once the broker answers a metadata request through librdkafka (proves the handshake works).
answers() {
  kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1
}

create_topics() {
  local existing t
  existing="$("$tansu" topic list --broker "$url" 2>/dev/null || true)"
  for t in $topics; do
    if printf '%s\n' "$existing" | grep -Fq "\"$t\"" || printf '%s\n' "$existing" | grep -Fxq "$t"; then
      continue
    fi
    "$tansu" topic create --broker "$url" --partitions "$partitions" "$t" >/dev/null
    log "created topic $t ($partitions partitions)"
  done
}

delete_topics() {
  local t
  for t in $topics; do
    "$tansu" topic delete --broker "$url" "$t" >/dev/null 2>&1 || true
  done
}

case "$cmd" in
  start)
    [ -x "$tansu" ] || { log "no broker binary at $tansu: run scripts/setup.sh"; exit 1; }
    command -v kcat >/dev/null || { log "kcat missing: run scripts/setup.sh"; exit 1; }
    mkdir -p "$run"
    if is_running; then
      log "already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    else
      adv="tcp://${advertise:-127.0.0.1:$port}"
      # setsid: own process group, so a stop never touches the caller and vice versa.
      setsid "$tansu" broker --listener-url "$url" --advertised-listener-url "$adv" \
        >"$logfile" 2>&1 < /dev/null &
      echo $! > "$pidfile"
      if [ -n "$advertise" ]; then
        # Clients cannot reach an advertised relay that is not up yet; wait on the port only.
        for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
      else
        for _ in $(seq 1 100); do answers && break; sleep 0.1; done
        answers || { log "broker did not answer on 127.0.0.1:$port; log: $logfile"; tail -n 20 "$logfile" >&2; exit 1; }
      fi
      log "started on 127.0.0.1:$port (pid $(cat "$pidfile"), advertised $adv, log $logfile)"
    fi
    create_topics
    ;;
  stop)
    if is_running; then
      pid="$(cat "$pidfile")"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then log "no exit after 10 s, killing $pid"; kill -KILL "$pid" 2>/dev/null || true; fi
      log "stopped (pid $pid)"
    else
      log "not running on port $port"
    fi
    rm -f "$pidfile"
    ;;
  status)
    if is_running; then
      echo "running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
      "$tansu" topic list --broker "$url" 2>/dev/null | grep -o '"name":"[^"]*"' | cut -d'"' -f4 | sed 's/^/  topic /' || true
    else
      echo "not running on port $port"; exit 3
    fi
    ;;
  topics) create_topics ;;
  reset) delete_topics; create_topics ;;
  env) printf 'export LD_LIBRARY_PATH=%q\n' "$LD_LIBRARY_PATH" ;;
  *) echo "broker.sh: unknown command: $cmd (start|stop|status|topics|reset|env)" >&2; exit 2 ;;
esac
