#!/usr/bin/env bash
# A long run against a local Tansu broker, with the RELEASE daemon: events stream in at --rate while
# the trainer fine-tunes and promotes --model every --every-events events; once a minute the daemon's
# RSS, the events applied, the lists published and the consumer lag are sampled. Prints a table and
# writes it (CSV, Markdown) with a plot (PNG) into --out.
#
#   scripts/soak.sh [--minutes 60] [--rate 2000] [--model lightgcn] [--every-events 100000] [--out docs/soak]
#                   [--kafka-setting key=value …]   (a [kafka] key, e.g. fetch_wait_max_ms=20)
#                   [--log-level info]   (debug shows librdkafka's own log when kafka.properties.debug is set)
# kafka.fetch_wait_max_ms is 500 unless set: the Tansu broker's fetches give up empty-handed once its
# partitions hold many small batches and a fetch may wait less than reading them takes
# (scripts/check-tansu-fetch.sh). Real Kafka has no such limit; the daemon's default is 20.
# Environment: TACIT_SCRATCH (SwiftPM build folder, default .build).
#
# The events are MovieLens-1M ratings replayed again and again with `ts` = send time and no `id`s (a
# second pass would otherwise be de-duplicated). The broker keeps every record in memory: about
# 1.5 GB per hour at 2,000 events/s.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
minutes=60; rate=2000; model=lightgcn; every=100000; out=docs/soak; kafka_settings=""; extra_args=""; log_level=info
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --every-events) every="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --log-level) log_level="$2"; extra_args+=" --log-level $2"; shift 2 ;;
    --kafka-setting) kafka_settings+="${2%%=*} = ${2#*=}"$'\n'; extra_args+=" --kafka-setting $2"; shift 2 ;;
    *) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$kafka_settings" in *fetch_wait_max_ms*) ;; *) kafka_settings+="fetch_wait_max_ms = 500"$'\n' ;; esac
. scripts/lib/release-tacit.sh
run="$root/.tools/run/soak"; rm -rf "$run"; mkdir -p "$run" "$out"
bport="$(free_port)"; hport="$(free_port)"; brokers="127.0.0.1:$bport"
daemon_pid=""; producer_pid=""
cleanup() {
  [ -n "$producer_pid" ] && { kill -- -"$producer_pid" 2>/dev/null || kill "$producer_pid" 2>/dev/null || true; }
  [ -n "$daemon_pid" ] && { kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null || true; }
  bash scripts/broker.sh stop --port "$bport" >/dev/null 2>&1 || true
}
trap cleanup EXIT

command_line="scripts/soak.sh --minutes $minutes --rate $rate --model $model --every-events $every --out $out$extra_args"
machine="$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/ { print $2 " GB RAM" }'), $(uname -sr)"
echo "# command: $command_line"
commit="$(git rev-parse --short HEAD)"   # read once: the binary is built from it now, HEAD may move during the run
echo "# machine: $machine; commit $commit"
bash scripts/broker.sh start --port "$bport" --partitions 4 2>/dev/null

cat > "$run/tacit.toml" <<EOF
[kafka]
brokers = "$brokers"
group_id = "soak-$RANDOM"
session_timeout_ms = 6000
heartbeat_interval_ms = 500
${kafka_settings}
[store]
path = "$run/tacit.sqlite"
[trainer]
model = "$model"
every_events = $every
interval_s = 600
[http]
port = $hport
[service]
log_level = "$log_level"
EOF
"$bin" daemon --config "$run/tacit.toml" 2> "$run/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$hport/healthz/ready" >/dev/null 2>&1 && break; sleep 0.05; done

# The producer: ML-1M over and over at --rate, in its own process group so cleanup stops the loop.
setsid bash -c "while :; do '$bin' replay --data ml-1m --topic tacit.feedback --brokers '$brokers' --rate '$rate' \
  --no-ids --progress-every 0 >> '$run/replay.log' 2>&1 || sleep 1; done" &
producer_pid=$!

metric() { curl -fsS "http://127.0.0.1:$hport/metrics" 2>/dev/null | awk -v m="$1" '$1 == m { printf "%d", $2 }'; }
csv="$out/soak.csv"
echo "minute,rss_mb,events_per_s,lists_per_s,lag,promotions" > "$csv"
printf '%6s %8s %12s %11s %8s %10s\n' minute rss_mb events/s lists/s lag promotions
prev_applied=0; prev_lists=0
for m in $(seq 1 "$minutes"); do
  sleep 60
  kill -0 "$daemon_pid" 2>/dev/null || { echo "the daemon exited; log: $run/daemon.log"; tail "$run/daemon.log"; exit 1; }
  rss=$(( $(ps -o rss= -p "$daemon_pid") / 1024 ))
  applied="$(metric tacit_events_applied_total || true)"; applied="${applied:-0}"
  lists="$(metric tacit_recommendations_published_total || true)"; lists="${lists:-0}"
  lag="$(metric tacit_consumer_lag || true)"; lag="${lag:-0}"
  promotions="$(grep -c "fine-tune promoted" "$run/daemon.log" || true)"
  eps=$(( (applied - prev_applied) / 60 )); lps=$(( (lists - prev_lists) / 60 ))
  prev_applied=$applied; prev_lists=$lists
  echo "$m,$rss,$eps,$lps,$lag,$promotions" >> "$csv"
  printf '%6d %8d %12d %11d %8d %10d\n' "$m" "$rss" "$eps" "$lps" "$lag" "$promotions"
done

kill -- -"$producer_pid" 2>/dev/null || true; producer_pid=""
kill -TERM "$daemon_pid"; status=0; wait "$daemon_pid" || status=$?; daemon_pid=""
echo "daemon stopped on SIGTERM with status $status"
python3 scripts/lib/plot-png.py "$csv" "$out/soak.png" "tacit soak: $rate events/s, $model, $minutes min" \
  rss_mb events_per_s,lists_per_s lag
{
  echo "Command: \`$command_line\`  "
  echo "Machine: $machine; commit $commit"
  echo
  echo "| minute | RSS (MB) | events/s | lists/s | lag | promotions |"
  echo "|---|---|---|---|---|---|"
  tail -n +2 "$csv" | awk -F, '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
  echo
  echo "Daemon stopped on SIGTERM with status $status. Plot: soak.png."
} > "$out/soak.md"
echo "wrote $csv, $out/soak.md, $out/soak.png"
