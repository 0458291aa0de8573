#!/usr/bin/env python3
"""Retail Rocket purchases, the split `tacit backtest --data retail-rocket --target buy` uses (events in time
order, warm-up 0.5, 5 rounds): HR@10 of lists made of each buyer's newest N viewed-or-carted, never-bought items
followed by the most popular items (all-time counts before the chunk). A check of what re-showing hesitations
is worth without any model (README, "Lifting the newest hesitations").

    python3 scripts/lib/reshow-baseline.py [path/to/retail_rocket/train.tsv]
"""
import sys
from collections import Counter, defaultdict

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/retail_rocket/train.tsv"
rows = [line.rstrip("\n").split("\t") for line in open(path)][1:]
rows = sorted(((int(u), int(i), b, int(t)) for u, i, b, t in rows), key=lambda r: r[3])  # stable, as the backtest
n, warm = len(rows), len(rows) // 2
step = (n - warm) / 5
bounds = [warm] + [int(warm + step * k) for k in range(1, 5)] + [n]
hits, lists, returning = Counter(), 0, 0
for k in range(5):
    lo, hi = bounds[k], bounds[k + 1]
    history, newest, popularity = defaultdict(dict), defaultdict(dict), Counter()
    for idx, (u, i, b, t) in enumerate(rows[:lo]):
        history[u].setdefault(i, set()).add(b)
        newest[u][i] = (t, idx)
        popularity[i] += 1
    bought = defaultdict(set)  # users known before the chunk who buy an item they had not bought
    for u, i, b, t in rows[lo:hi]:
        if b == "buy" and u in history and "buy" not in history[u].get(i, ()):
            bought[u].add(i)
    popular = [i for i, _ in popularity.most_common(200)]
    for u, items in bought.items():
        lists += 1
        returning += any(i in history[u] for i in items)
        hesitations = sorted((i for i, bs in history[u].items() if "buy" not in bs), key=lambda i: newest[u][i], reverse=True)
        for m in (0, 1, 3, 5, 7):
            top = hesitations[:m] + [p for p in popular if p not in hesitations[:m] and "buy" not in history[u].get(p, ())]
            hits[m] += any(i in items for i in top[:10])
print(f"data: {path}; {lists} lists (buyers known before their chunk), {returning} of them buy an item they had touched before")
for m in (0, 1, 3, 5, 7):
    print(f"newest {m} hesitations, then popular: HR@10 {hits[m] / lists:.4f}")
