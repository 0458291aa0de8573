#!/usr/bin/env bash
# Issue 23: throughput of 1, 2 and 3 `serve` instances in one consumer group, on one machine, against a
# local Tansu broker, with the RELEASE daemon serving a LightGCN that a `train` instance sent over the
# models topic (the production path: ingest into each instance's SQLite file, fold-in, list, publish).
#
#   scripts/measure-scaleout.sh [--events 1000000] [--runs 3] [--instances 1,2,3] [--partitions 12]
#
# Once: --events MovieLens-1M ratings are replayed into a staging topic and dumped to a file (key, JSON);
# a `train` instance reads the staging topic, fine-tunes LightGCN once and publishes it to tacit.models,
# then stops. Per run: a fresh input topic of --partitions partitions, N fresh `serve` instances (own
# SQLite file, shared group); once every instance is assigned partitions and has installed the model, the
# file is produced into the input topic with kcat, and the time from the first applied event to the
# last is taken from the instances' /metrics. Prints each run and the median per N.
# Environment: TACIT_SCRATCH (SwiftPM build folder, default .build).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
events=1000000; runs=3; instances=1,2,3; partitions=12
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --instances) instances="$2"; shift 2 ;;
    --partitions) partitions="$2"; shift 2 ;;
    *) echo "measure-scaleout.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
. scripts/lib/release-tacit.sh
run="$root/.tools/run/scaleout"; rm -rf "$run"; mkdir -p "$run"
bport="$(free_port)"; brokers="127.0.0.1:$bport"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash scripts/broker.sh stop --port "$bport" >/dev/null 2>&1 || true
}
trap cleanup EXIT
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
now_s() { date +%s.%N; }
metric() { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | awk -v m="$2" '$1 == m { print int($2) }' || true; }

echo "# command: scripts/measure-scaleout.sh --events $events --runs $runs --instances $instances --partitions $partitions"
echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/ { print $2 " GB RAM" }'), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(swift --version 2>&1 | head -n 1); commit $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'); broker Tansu (memory)"
TACIT_TOPICS="tacit.recommendations tacit.deadletter tacit.models staging" \
  bash scripts/broker.sh start --port "$bport" --partitions "$partitions" 2>/dev/null
TACIT_TOPICS="tacit.models" bash scripts/broker.sh topics --port "$bport" --partitions 1 2>/dev/null

echo "## $events MovieLens-1M ratings → staging topic → $run/events.tsv"
"$bin" replay --data ml-1m --limit "$events" --topic staging --brokers "$brokers" --progress-every 0 | tail -n 1
kcat -b "$brokers" -C -t staging -o beginning -e -q -f '%k\t%s\n' > "$run/events.tsv"
echo "$(wc -l < "$run/events.tsv") events dumped"

write_config() { # dir role group topic port
  cat > "$1/tacit.toml" <<EOF
[kafka]
brokers = "$brokers"
group_id = "$3"
input_topics = ["$4"]
session_timeout_ms = 6000
heartbeat_interval_ms = 500
[store]
path = "$1/tacit.sqlite"
[trainer]
model = "lightgcn"
every_events = $events
interval_s = 86400
[http]
port = $5
[service]
role = "$2"
log_level = "warning"
EOF
}

echo "## train instance: one LightGCN fine-tune on the staging topic, published to tacit.models"
tdir="$run/train"; mkdir -p "$tdir"; tport="$(free_port)"
write_config "$tdir" train "scaleout-trainer" staging "$tport"
"$bin" daemon --config "$tdir/tacit.toml" 2> "$tdir/daemon.log" &
tpid=$!; pids+=("$tpid")
for _ in $(seq 1 1200); do [ "$(metric "$tport" tacit_models_published_total)" = "1" ] && break; sleep 0.5; done
[ "$(metric "$tport" tacit_models_published_total)" = "1" ] || { echo "no model published"; tail "$tdir/daemon.log"; exit 1; }
echo "model published; trainer stopped (it would compete for the cores)"
kill -TERM "$tpid"; wait "$tpid" || true; pids=()

results=()
for n in ${instances//,/ }; do
  rates=()
  for r in $(seq 1 "$runs"); do
    topic="in-$n-$r"
    TACIT_TOPICS="$topic" bash scripts/broker.sh topics --port "$bport" --partitions "$partitions" 2>/dev/null
    ports=(); pids=()
    for i in $(seq 1 "$n"); do
      d="$run/serve-$n-$r-$i"; mkdir -p "$d"; p="$(free_port)"
      write_config "$d" serve "scaleout-$n-$r" "$topic" "$p"
      "$bin" daemon --config "$d/tacit.toml" 2> "$d/daemon.log" &
      pids+=($!); ports+=("$p")
    done
    # Everyone in the group with its share, and the model installed, before the first event.
    ready=""
    for _ in $(seq 1 600); do
      total=0; ok=1
      for p in "${ports[@]}"; do
        a="$(metric "$p" tacit_assigned_partitions)"; m="$(metric "$p" tacit_models_installed_total)"
        [ "${a:-0}" -gt 0 ] && [ "${m:-0}" -ge 1 ] || ok=0
        total=$((total + ${a:-0}))
      done
      [ "$ok" = 1 ] && [ "$total" = "$partitions" ] && { ready=1; break; }
      sleep 0.1
    done
    [ -n "$ready" ] || { echo "instances did not join / install the model"; exit 1; }
    t_first=""
    rm -f "$run/produced-at"
    ( kcat -b "$brokers" -P -t "$topic" -K $'\t' -l "$run/events.tsv"; now_s > "$run/produced-at" ) &
    producer=$!
    while :; do
      applied=0
      for p in "${ports[@]}"; do a="$(metric "$p" tacit_events_applied_total)"; applied=$((applied + ${a:-0})); done
      if [ -z "$t_first" ] && [ "$applied" -gt 0 ]; then t_first="$(now_s)"; first="$applied"; fi
      if [ "$applied" -ge "$events" ]; then t_end="$(now_s)"; break; fi
      sleep 0.05
    done
    wait "$producer"
    sleep 2  # the last debounced lists
    lists=0
    for p in "${ports[@]}"; do l="$(metric "$p" tacit_recommendations_published_total)"; lists=$((lists + ${l:-0})); done
    rate="$(awk -v n="$((events - first))" -v a="$t_first" -v b="$t_end" 'BEGIN { printf "%d", n / (b - a) }')"
    produced="$(awk -v a="$t_first" -v b="$(cat "$run/produced-at")" 'BEGIN { printf "%.2f", b - a }')"
    echo "n=$n run $r: $((events - first)) events after the first in $(awk -v a="$t_first" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }') s → $rate events/s (the producer was done at +$produced s); $lists lists published"
    rates+=("$rate")
    for p in "${pids[@]}"; do kill -TERM "$p"; done
    for p in "${pids[@]}"; do wait "$p" || echo "instance exit status $?"; done
    pids=()
  done
  med="$(printf '%s\n' "${rates[@]}" | median)"
  results+=("$n $med")
  echo "RESULT $n serving instance(s): median $med events/s over $runs runs"
done
base="$(echo "${results[0]}" | cut -d' ' -f2)"
echo "| serving instances | events/s (median of $runs) | vs 1 |"
echo "|---|---|---|"
for x in "${results[@]}"; do
  set -- $x
  echo "| $1 | $2 | $(awk -v a="$2" -v b="$base" 'BEGIN { printf "%.2f×", a / b }') |"
done
