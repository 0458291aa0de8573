# Shared by the scripts that reproduce a results table (eval-hnt.sh, eval-sine.sh): runs one
# `tacit eval` per row, JOBS at a time (one thread each), writing .results/<out>/<row>.json with its
# log and peak memory beside it, then prints the table. Source it after setting:
#   out     result folder          common  arguments every row shares (array)
#   rows    "name|arguments" list  metrics the columns to print, e.g. "HR@10 NDCG@10"
# ROWS="a b" runs only those rows; TACIT_BIN names an already built binary (skips the build).
tacit="${TACIT_BIN:-.build/release/tacit}"
[ -n "${TACIT_BIN:-}" ] || swift build -c release --product tacit >/dev/null
jobs="${JOBS:-2}"
mkdir -p "$out"
# Idle OpenBLAS threads spin for 2^28 cycles by default, taking a core from our own kernels.
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"

run_row() {
  local name="${1%%|*}" args="${1#*|}"
  local timer=()
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "peak_rss_kib %M" -o "$out/$name.rss")
  # shellcheck disable=SC2086
  "${timer[@]}" "$tacit" eval "${common[@]}" $args --json "$out/$name.json" > "$out/$name.log" 2>&1 \
    && echo "done: $name" || echo "FAILED: $name (see $out/$name.log)"
}

for row in "${rows[@]}"; do
  if [ -n "${ROWS:-}" ] && [[ " $ROWS " != *" ${row%%|*} "* ]]; then continue; fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 2; done
  run_row "$row" &
done
wait

# One table: each metric's mean ± sample std over the seeds (as `tacit eval` reports them).
python3 - "$out" $metrics <<'EOF'
import json, statistics, sys, pathlib
out, metrics = pathlib.Path(sys.argv[1]), sys.argv[2:]
print(f"{'row':28} " + " ".join(f"{m:>17}" for m in metrics) + "  s/epoch  best epochs  peak memory")
for f in sorted(out.glob("*.json")):
    doc = json.loads(f.read_text())
    runs = doc.get("runs", [doc])
    def col(m):
        return f"{doc['metrics'].get(m, float('nan')):.4f} ± {doc.get('metrics_std', {}).get(m, 0):.4f}"
    spe = statistics.median(r["seconds_per_epoch"] for r in runs)
    rss = out / f"{f.stem}.rss"
    peak = rss.read_text().split()[-1] + " KiB" if rss.exists() else "?"
    print(f"{f.stem:28} " + " ".join(f"{col(m):>17}" for m in metrics)
          + f"  {spe:7.2f}  {[r['best_epoch'] for r in runs]}  peak {peak}")
EOF
