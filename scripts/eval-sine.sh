#!/usr/bin/env bash
# Reproduces SINE's comparison and ablation table (docs/sine.md) on one dataset:
#   scripts/eval-sine.sh ml-100k        # or: ml-1m
# Every row is one `tacit eval` command under the `skips` protocol (ratings ≥ 4 positive, ≤ 3 skip;
# each user's last positive is the test, the one before it validates; AUC/GAUC/untruncated NDCG over
# the held-out positive and the skips of its window, HR/NDCG@10 over all items with history masked),
# epochs chosen on validation GAUC, seeds 1,2,3, written to .results/sine/<data>/<row>.json.
# SASRec and SASRec-N use SINE's encoder (d 50, one head, 2 blocks, inner 50, up to 200 positions)
# and its BPR loss, so the rows differ only in what the paper changes; `sasrec-ce` is SASRec as RecBole
# trains it (d 64, 2 heads, 50 positions, softmax over all items), for the full-ranking columns.
# SEEDS, JOBS, ROWS, EPOCHS, PATIENCE and MAX_LEN override.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

data="${1:?usage: scripts/eval-sine.sh ml-100k|ml-1m}"
out=".results/sine/$data"
common=(--data "$data" --protocol skips --seed "${SEEDS:-1,2,3}" --threads 1 --quiet
        --epochs "${EPOCHS:-50}" --patience "${PATIENCE:-5}")
encoder=(--dim 50 --heads 1 --blocks 2 --inner 50 --dropout 0.5 --max-len "${MAX_LEN:-200}" --batch-size 128)
sasrec=("${encoder[@]}" --loss bpr)

rows=(
  "popularity|--model popularity"
  "sasrec-ce|--model sasrec"
  "sasrec|--model sasrec ${sasrec[*]}"
  "sasrec-n|--model sasrec-n ${sasrec[*]}"
  "sine|--model sine ${encoder[*]}"
  "sine-no-af|--model sine ${encoder[*]} --ablation no-af"
  "sine-no-nf|--model sine ${encoder[*]} --ablation no-nf"
  "sine-no-beta|--model sine ${encoder[*]} --no-beta-attention"
)
metrics="AUC GAUC NDCG(untruncated) HR@10 NDCG@10"
. scripts/lib/eval-rows.sh
