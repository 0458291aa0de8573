#!/usr/bin/env bash
# The README's main command: Tacit end to end on one machine.
#
#   scripts/demo.sh
#
# 1. scripts/setup.sh (idempotent: apt packages, MovieLens, the Tansu broker, librdkafka 2.16),
# 2. builds the release binary,
# 3. starts a local Tansu broker on 127.0.0.1 (9092, or a free port if taken) and creates the topics,
# 4. writes a demo configuration and starts `tacit daemon` on a fresh SQLite file
#    (everything under .tools/run/demo/, git-ignored),
# 5. replays MovieLens-100k into tacit.feedback (rate-limited, ~1 minute),
# 6. prints recommendation lists as they arrive (`tacit tail`, at most one per second on screen),
# 7. prints a summary (events in, dead-lettered, lists out, freshness) and stops everything
#    (daemon with SIGTERM, then the broker), also on Ctrl-C or error.
# The operator page is at http://127.0.0.1:$TACIT_HTTP_PORT/ while the demo runs.
#
# Environment: TACIT_DEMO_RATE (events/s, default 1500), TACIT_DEMO_LIMIT (events, default all
# 100,000), TACIT_DEMO_MODEL (default lightgcn), TACIT_SCRATCH (SwiftPM build folder, default .build),
# TACIT_BROKER_PORT / TACIT_HTTP_PORT (defaults 9092 / 8088, else free ports), TACIT_DEMO_HOLD (seconds
# to keep the daemon and its page up after the summary, default 0), TACIT_DEMO_SCREENSHOT (a PNG path:
# the operator page in headless chromium, taken after the summary).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rate="${TACIT_DEMO_RATE:-1500}"
limit="${TACIT_DEMO_LIMIT:-0}"
model="${TACIT_DEMO_MODEL:-lightgcn}"
scratch="${TACIT_SCRATCH:-.build}"
run="$root/.tools/run/demo"

say() { printf '\n\033[1m[demo] %s\033[0m\n' "$*"; }
note() { printf '[demo] %s\n' "$*"; }

# --- 1-2: set up and build -----------------------------------------------------------------------
say "setting up (scripts/setup.sh)"
bash scripts/setup.sh
say "building the release binary (swift build -c release)"
mkdir -p .tools/run
if ! swift build -c release --scratch-path "$scratch" --product tacit > .tools/run/demo-build.log 2>&1; then
  grep -E "error" .tools/run/demo-build.log | head -n 20; note "build failed (log: .tools/run/demo-build.log)"; exit 1
fi
tail -n 1 .tools/run/demo-build.log
bin="$root/$scratch/release/tacit"
# shellcheck source=env.sh
. scripts/env.sh   # .tools/lib (librdkafka 2.16) first on LD_LIBRARY_PATH: Debian's 2.0.2 cannot talk to Tansu

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # preferred port, else a random free one
  local p="$1"
  while port_taken "$p"; do p=$(( 20000 + RANDOM % 20000 )); done
  echo "$p"
}
broker_port="$(free_port "${TACIT_BROKER_PORT:-9092}")"
http_port="$(free_port "${TACIT_HTTP_PORT:-8088}")"
brokers="127.0.0.1:$broker_port"

# --- clean-up on any exit ------------------------------------------------------------------------
daemon_pid=""; tail_pid=""; replay_pid=""; broker_started=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$replay_pid" ] && kill -TERM "$replay_pid" 2>/dev/null || true
  [ -n "$tail_pid" ] && kill -INT "$tail_pid" 2>/dev/null || true
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    note "stopping the daemon (SIGTERM)"
    kill -TERM "$daemon_pid" 2>/dev/null || true
    local t0=$SECONDS
    while kill -0 "$daemon_pid" 2>/dev/null && [ $((SECONDS - t0)) -lt 30 ]; do sleep 0.2; done
    if kill -0 "$daemon_pid" 2>/dev/null; then note "daemon still running after 30 s: SIGKILL"; kill -KILL "$daemon_pid" 2>/dev/null || true; fi
    local st=0
    wait "$daemon_pid" 2>/dev/null || st=$?
    note "daemon exited with status $st after $((SECONDS - t0)) s (log: $run/daemon.log)"
  fi
  [ -n "$tail_pid" ] && wait "$tail_pid" 2>/dev/null || true
  if [ -n "$broker_started" ]; then bash scripts/broker.sh stop --port "$broker_port" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'note "interrupted"; exit 130' INT TERM

# --- 3: broker and topics ------------------------------------------------------------------------
say "starting the Tansu broker on $brokers"
broker_started=1
bash scripts/broker.sh start --port "$broker_port" --partitions 4

# --- 4: configuration and daemon -----------------------------------------------------------------
rm -rf "$run"; mkdir -p "$run"
cfg="$run/tacit.toml"
cat > "$cfg" <<EOF
# Written by scripts/demo.sh; every other key keeps its default (configs/tacit.toml documents them).
[kafka]
brokers = "$brokers"
group_id = "tacit-demo"
# Fast group joins on the Tansu test broker (see ../shared/docs/kafka.md).
session_timeout_ms = 6000
heartbeat_interval_ms = 500

[store]
path = "$run/tacit.sqlite"
synchronous = "normal"

[trainer]
model = "$model"
# Fine-tune often enough to see a promotion during the demo.
every_events = 25000
interval_s = 60
epochs = 5
threads = 1

[publisher]
top_k = 10

[http]
port = $http_port

[service]
log_level = "info"
EOF
say "starting tacit daemon --config $cfg (trainer.model = $model; log: $run/daemon.log)"
"$bin" daemon --config "$cfg" 2> "$run/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$http_port/healthz/ready" >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { note "daemon exited during start-up:"; tail -n 20 "$run/daemon.log"; daemon_pid=""; exit 1; }
  sleep 0.2
done
note "daemon ready: http://127.0.0.1:$http_port/healthz, /metrics, /recommendations/{user}"
say "operator page: http://127.0.0.1:$http_port/  (open it in a browser while the demo runs)"

# --- 5-6: tail and replay ------------------------------------------------------------------------
say "following tacit.recommendations (one list per second shown; all are counted)"
"$bin" tail --brokers "$brokers" --every 1 --items 5 2> "$run/tail.summary" &
tail_pid=$!
sleep 3   # group join (~1-3 s on Tansu), so the first lists are seen
say "sending 3 malformed records to tacit.feedback: each goes to tacit.deadletter with its reason, and ingest goes on"
printf '%s\n' '1|{not json' '2|{"user":"2","item":"50","type":"teleport","ts":874965758000}' \
  '3|{"user":"3","item":"50","ts":874965758000}' | kcat -P -b "$brokers" -t tacit.feedback -K '|'
say "replaying MovieLens-100k into tacit.feedback at $rate events/s"
limit_args=(); [ "$limit" != 0 ] && limit_args=(--limit "$limit")
"$bin" replay --data ml-100k --topic tacit.feedback --brokers "$brokers" --rate "$rate" "${limit_args[@]}" \
  --progress-every 10 > "$run/replay.out" 2>&1 &
replay_pid=$!
while kill -0 "$replay_pid" 2>/dev/null; do
  sleep 1
  [ -s "$run/replay.out" ] && grep -h "^replay: [0-9]" "$run/replay.out" | tail -n 1 | sed 's/^/    /' > "$run/progress.now" || true
  if [ -s "$run/progress.now" ] && ! cmp -s "$run/progress.now" "$run/progress.last" 2>/dev/null; then
    cat "$run/progress.now"; cp "$run/progress.now" "$run/progress.last"
  fi
done
replay_rc=0; wait "$replay_pid" || replay_rc=$?; replay_pid=""
grep "^replay: done" "$run/replay.out" | sed 's/^/    /' || true
[ "$replay_rc" -eq 0 ] || { note "replay failed:"; cat "$run/replay.out"; exit 1; }
produced="$(sed -n 's/^replay: done: \([0-9]*\) records.*/\1/p' "$run/replay.out")"
produced=$((produced + 3))  # and the malformed ones

metric() { # sum of a metric's samples (all label sets)
  curl -fsS "http://127.0.0.1:$http_port/metrics" 2>/dev/null | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }'
}
note "waiting for the daemon to apply everything"
t0=$SECONDS
while :; do
  applied="$(metric tacit_events_applied_total)"; dead="$(metric tacit_events_deadlettered_total)"
  [ $((applied + dead)) -ge "$produced" ] && break
  [ $((SECONDS - t0)) -ge 90 ] && { note "timed out: $applied applied + $dead dead-lettered of $produced"; break; }
  sleep 0.5
done
sleep 2   # debounce + publish of the last lists
kill -INT "$tail_pid" 2>/dev/null || true; wait "$tail_pid" 2>/dev/null || true; tail_pid=""

# --- 7: summary ----------------------------------------------------------------------------------
freshness() { # quantile from the Prometheus histogram, interpolated linearly within its bucket
  curl -fsS "http://127.0.0.1:$http_port/metrics" | awk -v q="$1" '
    /^tacit_freshness_seconds_bucket/ { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); n++; les[n] = le; c[n] = $2 }
    /^tacit_freshness_seconds_count/ { total = $2 }
    END {
      if (total == 0) { print "n/a"; exit }
      lo = 0; below = 0
      for (i = 1; i <= n; i++) {
        if (c[i] >= q * total) {
          if (les[i] == "+Inf") { printf "> %.0f ms\n", lo * 1000; exit }
          printf "%.0f ms\n", (lo + (les[i] - lo) * (q * total - below) / (c[i] - below)) * 1000; exit
        }
        lo = les[i]; below = c[i]
      }
    }'
}
online() { # one line per model version: its lists scored on the user's next events, and popularity's lists for the same users and moments
  curl -fsS "http://127.0.0.1:$http_port/metrics" | awk '
    /^tacit_online_(control_)?(lists|hr10|ndcg10|negshare10)\{/ {
      match($0, /model="[^"]*"/); m = substr($0, RSTART + 7, RLENGTH - 8)
      match($0, /version="[^"]*"/); v = substr($0, RSTART + 9, RLENGTH - 10)
      k = m "@" v; split($1, name, "{"); sub(/^tacit_online_/, "", name[1]); val[k, name[1]] = $2; keys[k] = 1 }
    END {
      n = 0; for (k in keys) n++
      if (n == 0) { print "  (no list has been followed by events of its user yet)"; exit }
      printf "  %-16s %6s   %-24s   %-24s   %-24s\n", "version", "lists", "HR@10 (popularity)", "NDCG@10 (popularity)", "NegShare@10 (popularity)"
      for (k in keys) {
        c = ((k, "control_lists") in val)
        printf "  %-16s %6d   %.4f %-17s   %.4f %-17s   %.4f %s\n", k, val[k, "lists"],
          val[k, "hr10"], c ? sprintf("(%.4f)", val[k, "control_hr10"]) : "", val[k, "ndcg10"], c ? sprintf("(%.4f)", val[k, "control_ndcg10"]) : "",
          val[k, "negshare10"], c ? sprintf("(%.4f)", val[k, "control_negshare10"]) : ""
      }
    }' | { IFS= read -r header && echo "$header"; sort -t@ -k2n; }
}
lists="$(metric tacit_recommendations_published_total)"
say "summary"
cat <<EOF
  events in (replayed, acknowledged)   $produced  (MovieLens-100k ratings → tacit.feedback, $rate/s, and 3 malformed)
  events applied to SQLite             $(metric tacit_events_applied_total)
  dead-lettered                        $(metric tacit_events_deadlettered_total)
  duplicates skipped (event id)        $(metric tacit_events_duplicate_total)
  lists published                      $lists
  freshness (event → list acked) p50   $(freshness 0.5)
                                 p99   $(freshness 0.99)  (interpolated in /metrics buckets; lists new events asked for)
  lists republished after promotions   $(metric tacit_recommendations_republished_total)
  configured model                     $model (trainer.model); fine-tunes promoted: $(grep -c "fine-tune promoted" "$run/daemon.log" || true), not promoted: $(grep -c "fine-tune not promoted" "$run/daemon.log" || true)
  $(cat "$run/tail.summary" 2>/dev/null | tail -n 1)
  one user's list right now            $(curl -fsS "http://127.0.0.1:$http_port/recommendations/1" | cut -c1-160)…
EOF
say "one user's list and why: GET /recommendations/1?explain=1 (publisher.explain = true puts the same in every message)"
curl -fsS "http://127.0.0.1:$http_port/recommendations/1?explain=1" | python3 -c '
import json, sys
m = json.load(sys.stdin)
e = m.get("explanation", {})
because = {b["item"]: b["because"] for b in e.get("because", [])}
print("  user %s, %s version %s, generated %s" % (m["user"], m["model"], m["model_version"], m["generated_at"]))
for rank, it in enumerate(m["items"], 1):
    why = "  because the user took item %s" % because[it["item"]] if it["item"] in because else ""
    print("  %2d. item %-6s score %7.3f%s" % (rank, it["item"], it["score"], why))
for h in e.get("hesitation", []):
    print("  hesitating over item %s: conversion probability %.2f" % (h["item"], h["conversion_probability"]))
for n in e.get("negatives", []):
    print("  recent %s of item %s (%s)" % (n["feedback"], n["item"], n["ts"]))
for p in e.get("pushed_down", []):
    print("  pushed down by them: item %s (rank %d without them, score %.3f → %.3f)" % (p["item"], p["rank_without_negatives"], p["score_without_negatives"], p["score"]))
' || echo "  (no list for user 1)"
say "online quality: each published list scored on what its user did next (tacit backtest's rule), per model version;"
note "in brackets: popularity's list for the same user at the same moment, scored on the same events (the control)"
online
note "state: $run/tacit.sqlite (sqlite3 it: SELECT COUNT(*) FROM users;), log: $run/daemon.log"
if [ -n "${TACIT_DEMO_SCREENSHOT:-}" ]; then
  if command -v chromium >/dev/null; then
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$run/chromium" --window-size=1500,1750 \
      --virtual-time-budget=6000 --screenshot="$TACIT_DEMO_SCREENSHOT" "http://127.0.0.1:$http_port/?user=1&refresh=60000" >/dev/null 2>&1 \
      && note "operator page screenshot: $TACIT_DEMO_SCREENSHOT" || note "screenshot failed"
  else
    note "no chromium for the screenshot (apt-get install chromium)"
  fi
fi
if [ "${TACIT_DEMO_HOLD:-0}" -gt 0 ]; then
  say "the daemon stays up ${TACIT_DEMO_HOLD} s: operator page http://127.0.0.1:$http_port/ (Ctrl-C stops it)"
  sleep "$TACIT_DEMO_HOLD"
fi
