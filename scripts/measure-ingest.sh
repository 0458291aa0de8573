#!/usr/bin/env bash
# Issue 4 measurements, against a local Tansu broker, with the RELEASE daemon:
#  (a) sustained ingest: events/s applied to SQLite (median of --runs runs over --events pre-produced
#      events, a fresh SQLite file and consumer group per run), next to the raw consume rate of the same
#      topic with kcat (-C -e -o beginning, median of --runs) on the same broker, timed like the daemon
#      from its first records to its last (kcat's own start-up, metadata and first fetch left out);
#  (b) freshness: event produced → list for that user published, p50/p99 at --fresh-rate events/s,
#      matching each acknowledged event (partition, offset, send time; `tacit replay --delivery-log`)
#      with the first list for its user whose events_through covers that offset (`tacit tail --json`).
#
#   scripts/measure-ingest.sh [--events 200000] [--runs 3] [--fresh-rate 200] [--fresh-seconds 60]
#                             [--synchronous full|normal] [--debounce 500[,50,…]] [--freshness-only]
#                             [--kafka-setting key=value …]   (a [kafka] key, e.g. fetch_wait_max_ms=20)
#                             [--store-setting key=value …]   (a [store] key, e.g. batch_size=8000)
#                             [--model popularity|lightgcn|sine|…]
# --model other than popularity serves a learned model in (b): the daemon first takes the first 60,000
# MovieLens-100k events with the trainer on (one fine-tune, promoted), then the timed events follow
# (at most the 40,000 left), and lists per event count only lists published during the timed part.
# --debounce runs (b) once per publisher.debounce_ms value given, and prints lists per event beside the
# latencies: the debounce's trade-off.
# Environment: TACIT_SCRATCH (SwiftPM build folder, default .build).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
events=200000; runs=3; fresh_rate=200; fresh_seconds=60; sync=full; debounces=500; freshness_only=""; kafka_settings=""; store_settings=""; extra_args=""; serve_model=popularity
while [ $# -gt 0 ]; do
  case "$1" in
    --events) events="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --fresh-rate) fresh_rate="$2"; shift 2 ;;
    --fresh-seconds) fresh_seconds="$2"; shift 2 ;;
    --synchronous) sync="$2"; shift 2 ;;
    --debounce) debounces="$2"; shift 2 ;;
    --freshness-only) freshness_only=1; shift ;;
    --model) serve_model="$2"; extra_args+=" --model $2"; shift 2 ;;
    --kafka-setting) kafka_settings+="${2%%=*} = ${2#*=}"$'\n'; extra_args+=" --kafka-setting $2"; shift 2 ;;
    --store-setting) store_settings+="${2%%=*} = ${2#*=}"$'\n'; extra_args+=" --store-setting $2"; shift 2 ;;
    *) echo "measure-ingest.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
. scripts/lib/release-tacit.sh
run="$root/.tools/run/measure"; rm -rf "$run"; mkdir -p "$run"
bport="$(free_port)"; hport="$(free_port)"; brokers="127.0.0.1:$bport"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && { kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null || true; }
  bash scripts/broker.sh stop --port "$bport" >/dev/null 2>&1 || true
}
trap cleanup EXIT
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
now_s() { date +%s.%N; }

echo "# command: scripts/measure-ingest.sh --events $events --runs $runs --fresh-rate $fresh_rate --fresh-seconds $fresh_seconds --synchronous $sync --debounce $debounces${freshness_only:+ --freshness-only}${extra_args:-}"
echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem:/ { print $2 " GB RAM" }'), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(swift --version 2>&1 | head -n 1); librdkafka $(readlink -f .tools/lib/librdkafka.so.1 | xargs basename); broker Tansu (memory), 4 partitions"
bash scripts/broker.sh start --port "$bport" --partitions 4 2>/dev/null

if [ -z "$freshness_only" ]; then
echo "## pre-producing $events events (MovieLens-1M ratings, JSON, key = user, acks=all) into tacit.feedback"
"$bin" replay --data ml-1m --limit "$events" --topic tacit.feedback --brokers "$brokers" --progress-every 0 | tail -n 1

echo "## (a) raw consume with kcat (-C -e -o beginning, all partitions; from the first records read to the last)"
# Counts the lines kcat writes as they arrive: the rate is taken over the records after the first read,
# as the daemon's is taken after its first applied batch, so neither start-up is in it. kcat gets the
# daemon's fetch.queue.backoff.ms too (librdkafka's 1 s default idles a consumer that drains its queue).
count_from_first() {
  python3 -c '
import os, time
first = last = None; n = n_first = 0
while True:
    chunk = os.read(0, 1 << 20)
    if not chunk:
        break
    last = time.monotonic()
    n += chunk.count(b"\n")
    if first is None:
        first, n_first = last, n
print(n, n - n_first, f"{(last or 0) - (first or 0):.3f}")'
}
krates=()
for r in $(seq 1 "$runs"); do
  read -r n n_after secs < <(kcat -b "$brokers" -X fetch.queue.backoff.ms=10 -C -t tacit.feedback -o beginning -e -q -f '%o\n' 2>/dev/null | count_from_first)
  rate="$(awk -v n="$n_after" -v s="$secs" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }')"
  echo "kcat run $r: $n records; $n_after after the first read in $secs s → $rate records/s"
  krates+=("$rate")
done
kmed="$(printf '%s\n' "${krates[@]}" | median)"
fi

preload=60000
write_config() { # dir group [debounce_ms] [model]
  cat > "$1/tacit.toml" <<EOF
[kafka]
brokers = "$brokers"
group_id = "$2"
session_timeout_ms = 6000
heartbeat_interval_ms = 500
${kafka_settings}
[store]
path = "$1/tacit.sqlite"
synchronous = "$sync"
${store_settings}$(if [ "${4:-popularity}" = popularity ]; then printf '[trainer]\nenabled = false\nmodel = "popularity"'; else
  printf '[trainer]\nenabled = true\nmodel = "%s"\nevery_events = %d\ninterval_s = 86400' "$4" "$preload"; fi)
[publisher]
debounce_ms = ${3:-500}
[http]
port = $hport
[service]
log_level = "${5:-warning}"
EOF
}
metric() { curl -fsS "http://127.0.0.1:$hport/metrics" 2>/dev/null | awk -v m="$1" '$1 == m { print $2 }'; }
start_daemon() { # dir
  "$bin" daemon --config "$1/tacit.toml" 2> "$1/daemon.log" &
  daemon_pid=$!
  for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$hport/healthz/ready" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "daemon did not become ready"; tail "$1/daemon.log"; exit 1
}
stop_daemon() { kill -TERM "$daemon_pid"; wait "$daemon_pid" || echo "daemon exit status $?"; daemon_pid=""; }

if [ -z "$freshness_only" ]; then
nl=$'\n'
echo "## (a) daemon ingest (release, synchronous=$sync, ${store_settings:+${store_settings//$nl/, }}id dedup on, trainer off, publisher on)"
drates=()
for r in $(seq 1 "$runs"); do
  d="$run/ingest-$r"; mkdir -p "$d"; write_config "$d" "measure-$r-$RANDOM"
  start_daemon "$d"
  t_first=""; t_end=""
  while :; do
    a="$(metric tacit_events_applied_total)"; a="${a:-0}"; a="${a%.*}"
    if [ -z "$t_first" ] && [ "$a" -gt 0 ]; then t_first="$(now_s)"; a_first="$a"; fi
    if [ "$a" -ge "$events" ]; then t_end="$(now_s)"; break; fi
    sleep 0.05
  done
  rate="$(awk -v n="$((events - a_first))" -v a="$t_first" -v b="$t_end" 'BEGIN { printf "%d", n / (b - a) }')"
  echo "daemon run $r: $events events applied; $((events - a_first)) after the first batch in $(awk -v a="$t_first" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }') s → $rate events/s"
  drates+=("$rate")
  stop_daemon
done
dmed="$(printf '%s\n' "${drates[@]}" | median)"
echo "RESULT ingest: daemon median $dmed events/s applied to SQLite vs kcat raw consume median $kmed records/s ($events events, $runs runs)"
fi

for debounce in ${debounces//,/ }; do
echo "## (b) freshness at $fresh_rate events/s for $fresh_seconds s (MovieLens-100k, ts = send time; debounce_ms $debounce, model $serve_model)"
bash scripts/broker.sh reset --port "$bport" --partitions 4 2>/dev/null
d="$run/freshness-$debounce"; mkdir -p "$d"; write_config "$d" "measure-fresh-$RANDOM" "$debounce" "$serve_model" info
start_daemon "$d"
skip=0; timed=$((fresh_rate * fresh_seconds))
if [ "$serve_model" != popularity ]; then
  skip=$preload; timed=$(( timed < 100000 - preload ? timed : 100000 - preload ))
  "$bin" replay --data ml-100k --topic tacit.feedback --brokers "$brokers" --limit "$preload" --progress-every 0 | tail -n 1
  for _ in $(seq 1 600); do grep -q "fine-tune promoted" "$d/daemon.log" && break; sleep 0.5; done
  grep -q "fine-tune promoted" "$d/daemon.log" || { echo "no promoted $serve_model model after 300 s"; tail "$d/daemon.log"; exit 1; }
  echo "$serve_model promoted: $(grep "fine-tune promoted" "$d/daemon.log" | tail -n 1 | cut -c1-200)"
  sleep 5   # the republish after the promotion
fi
"$bin" tail --brokers "$brokers" --from-beginning --json > "$d/lists.jsonl" 2> "$d/tail.err" &
tail_pid=$!
sleep 3
"$bin" replay --data ml-100k --topic tacit.feedback --brokers "$brokers" --rate "$fresh_rate" --skip "$skip" \
  --limit "$timed" --delivery-log "$d/deliveries.txt" --progress-every 0 | tail -n 1
sleep 3
kill -INT "$tail_pid"; wait "$tail_pid" || true
stop_daemon
python3 - "$d/deliveries.txt" "$d/lists.jsonl" "$fresh_rate" "$debounce" <<'EOF'
import json, sys, bisect
deliveries, lists, rate, debounce = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
list_count = 0
by_user = {}
for line in open(lists):
    o = json.loads(line)
    m = o["message"]
    by_user.setdefault(m["user"], []).append((o["timestamp_ms"] or o["received_ms"], o["received_ms"], m["events_through"]))
for v in by_user.values(): v.sort(key=lambda t: t[0])
first_timed = min(int(l.split()[3]) for l in open(deliveries))
list_count = sum(1 for v in by_user.values() for l in v if l[0] >= first_timed)
lat, rec, steady, missing = [], [], [], 0
first_sent = None
for line in open(deliveries):
    tp, off, user, sent = line.split()
    off, sent = int(off), int(sent)
    first_sent = sent if first_sent is None else min(first_sent, sent)
    hit = next((l for l in by_user.get(user, []) if l[2].get(tp, -1) >= off), None)
    if hit is None: missing += 1; continue
    lat.append(hit[0] - sent); rec.append(hit[1] - sent)
    steady.append((sent, hit[0] - sent))
def q(a, p):
    a = sorted(a); return a[min(len(a) - 1, int(p * len(a)))] if a else float("nan")
events = len(lat) + missing
print(f"RESULT freshness at {rate} events/s, debounce {debounce} ms: {len(lat)} events matched ({missing} without a later list); "
      f"{list_count} lists ({list_count / max(events, 1):.2f} per event); "
      f"produce → list published (record timestamp) p50 {q(lat,.5)} ms, p99 {q(lat,.99)} ms; "
      f"→ list received by a consumer p50 {q(rec,.5)} ms, p99 {q(rec,.99)} ms")
# The first second includes the consumer's start (group join, first fetches): reported apart.
later = [l for s, l in steady if s >= first_sent + 1000]
print(f"RESULT freshness after the first second: {len(later)} events; produce → list published p50 {q(later,.5)} ms, "
      f"p99 {q(later,.99)} ms")
EOF
done
