#!/usr/bin/env bash
# Why a daemon with a short kafka.fetch_wait_max_ms stopped consuming from the Tansu test broker in a soak
# (README, "A long run"), shown with kcat alone, no Tacit: a partition is filled with many small record
# batches (4 records each, as a steady trickle of events produces), and after every 50,000 records the
# newest 20,000 are read back with fetch.wait.max.ms = 20 and = 500 ms.
#
#   scripts/check-tansu-fetch.sh [--steps 4] [--batch 4] [--timeout 30]
#
# Tansu's in-memory fetch takes longer the more batches a partition holds; once that exceeds the fetch's
# max wait it answers with no records, every time, although records are waiting. Apache Kafka reads by
# offset index and returns records as soon as it has them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
steps=4; batch=4; limit=30
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --timeout) limit="$2"; shift 2 ;;
    *) echo "check-tansu-fetch.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
. scripts/env.sh
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$(( 20000 + RANDOM % 20000 )); while port_taken "$port"; do port=$(( 20000 + RANDOM % 20000 )); done
work="$(mktemp -d)"
trap 'bash scripts/broker.sh stop --port '"$port"' >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
TACIT_TOPICS="fetch-check" bash scripts/broker.sh start --port "$port" --partitions 1 2>/dev/null
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "u%d\t{\"user\":\"u%d\",\"item\":\"i%d\",\"type\":\"play\",\"ts\":1700000000000}\n", i, i, i }' > "$work/records.tsv"
echo "# command: scripts/check-tansu-fetch.sh --steps $steps --batch $batch --timeout $limit"
echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $("$root/.tools/bin/tansu" --version 2>/dev/null | head -n 1 || echo tansu)"
echo "| records in the partition | batches | fetch.wait.max.ms = 20 | fetch.wait.max.ms = 500 |"
echo "|---|---|---|---|"
total=0
for _ in $(seq 1 "$steps"); do
  kcat -b "127.0.0.1:$port" -P -t fetch-check -p 0 -K $'\t' -X batch.num.messages="$batch" -X linger.ms=0 -l "$work/records.tsv"
  total=$((total + 50000))
  row="| $total | $((total / batch)) |"
  for wait in 20 500; do
    start=$(date +%s.%N)
    n=$(timeout "$limit" kcat -C -q -e -X fetch.wait.max.ms="$wait" -b "127.0.0.1:$port" -t fetch-check -p 0 \
      -o $((total - 20000)) -c 20000 2>/dev/null | wc -l || true)
    row+=" $n of 20,000 in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s |"
  done
  echo "$row"
done
