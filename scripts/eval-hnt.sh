#!/usr/bin/env bash
# Reproduces HNT's comparison and ablation tables (docs/hnt.md) on one dataset:
#   scripts/eval-hnt.sh retail-rocket        # or: tmall
# Every row is one `tacit eval` command under the sampled-99 protocol (leave-one-out on buys,
# 99 sampled non-bought items, epochs chosen on validation, test reported once), seeds 1,2,3,
# written as JSON to .results/hnt/<data>/<row>.json with its log beside it. Two rows run at a
# time (one thread each) to use both cores of the reference machine. SEEDS and JOBS override;
# ROWS="hnt lightgcn" runs only those rows; EPOCHS caps HNT's epochs (Tmall: 40).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

data="${1:?usage: scripts/eval-hnt.sh retail-rocket|tmall}"
seeds="${SEEDS:-1,2,3}"
jobs="${JOBS:-2}"
out=".results/hnt/$data"
mkdir -p "$out"

# TACIT_BIN: an already built binary (skips the build).
tacit="${TACIT_BIN:-.build/release/tacit}"
[ -n "${TACIT_BIN:-}" ] || swift build -c release --product tacit >/dev/null
common=(--data "$data" --protocol sampled99 --seed "$seeds" --threads 1 --eval-every 2 --quiet)
# HNT's settings, chosen on Retail Rocket's validation split (docs/hnt.md): μ = 1, β = 1,
# batch 8192 and lr 5e-3 (for speed: the paper's 2048 / 1e-3 took 50+ epochs of 6 s; not compared head on).
hnt=(--model hnt --batch-size 8192 --lr 5e-3 --epochs "${EPOCHS:-100}" --patience 4)

rows=(
  "popularity|--model popularity"
  "popularity-all|--model popularity-all"
  "bpr|--model bpr --epochs 400 --patience 20"
  "lightgcn|--model lightgcn --epochs 400 --patience 20"
  "hnt|${hnt[*]}"
  "hnt-base|${hnt[*]} --ablation base"
  "hnt-no-hesitation|${hnt[*]} --ablation no-hesitation"
  "hnt-no-negative-transfer|${hnt[*]} --ablation no-negative-transfer"
  "hnt-hesitation-only|${hnt[*]} --ablation hesitation-only"
)

run_row() {
  local name="${1%%|*}" args="${1#*|}"
  # Peak memory (max RSS) beside the log, when GNU time is installed.
  local timer=()
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "peak_rss_kib %M" -o "$out/$name.rss")
  # shellcheck disable=SC2086
  "${timer[@]}" "$tacit" eval "${common[@]}" $args --json "$out/$name.json" > "$out/$name.log" 2>&1 \
    && echo "done: $name" || echo "FAILED: $name (see $out/$name.log)"
}
export -f run_row
export tacit out
for row in "${rows[@]}"; do
  if [ -n "${ROWS:-}" ] && [[ " $ROWS " != *" ${row%%|*} "* ]]; then continue; fi
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 2; done
  run_row "$row" &
done
wait

# One table: HR@10 and NDCG@10, mean ± std over the seeds, from the JSON files.
python3 - "$out" <<'EOF'
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
print(f"{'model':28} {'HR@10':>17} {'NDCG@10':>17}  s/epoch  best epochs  peak memory")
for f in sorted(out.glob("*.json")):
    doc = json.loads(f.read_text())
    runs = doc.get("runs", [doc])
    def col(m):   # mean ± sample std over seeds, as `tacit eval` reports them
        return f"{doc['metrics'][m]:.4f} ± {doc.get('metrics_std', {}).get(m, 0):.4f}"
    spe = statistics.median(r["seconds_per_epoch"] for r in runs)
    rss = out / f"{f.stem}.rss"
    peak = rss.read_text().split()[-1] + " KiB" if rss.exists() else "?"
    print(f"{f.stem:28} {col('HR@10'):>17} {col('NDCG@10'):>17}  {spe:7.2f}  {[r['best_epoch'] for r in runs]}  peak {peak}")
EOF
