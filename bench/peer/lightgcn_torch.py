#!/usr/bin/env python3
"""PyTorch (CPU) LightGCN on MovieLens-1M: the reference peer for Tacit's Swift LightGCN.

This script reproduces how RecBole trains LightGCN under its "general" protocol, so that its
seconds-per-epoch can be compared with Tacit's Swift implementation on the same machine.

Data preparation (RecBole's general recommendation protocol):
  * keep interactions with rating >= 3 (RecBole ``val_interval: {rating: "[3,inf)"}``);
  * iterative 10-core filtering on users AND items, repeated until every remaining user and
    item has >= 10 interactions (``user_inter_num_interval`` / ``item_inter_num_interval``
    ``"[10,inf)"``);
  * random 8:1:1 split per user (``eval_args: {split: {RS: [0.8,0.1,0.1]}, order: RO,
    group_by: user}``) with RecBole's ``_calcu_split_ids`` rounding, under a fixed seed.

Model and training (RecBole ``LightGCN`` + ``Trainer`` defaults unless stated):
  * user and item embeddings of size 64, Xavier-uniform initialised;
  * normalised adjacency  D^-1/2 A D^-1/2  of the bipartite user-item graph built from the
    training split, held as a torch sparse tensor (COO like RecBole, or CSR with --format csr);
  * on EVERY mini-batch the full graph is propagated (forward and backward through all
    ``--layers`` layers, 3 by default; RecBole's yaml default is 2) and the final embedding is
    the mean of layers 0..L;
  * BPR loss  -log(1e-10 + sigmoid(s_pos - s_neg)), one negative per training pair drawn
    uniformly among the items the user has NOT interacted with in the training split,
    redrawn every epoch;
  * L2 regulariser as RecBole's ``EmbLoss`` (require_pow=False): the sum of the Frobenius norms
    of the batch's ego (layer-0) user/positive/negative embeddings divided by the batch size,
    weighted by reg_weight = 1e-5;
  * Adam, lr 1e-3, batch size 2048, training pairs shuffled every epoch (last partial batch
    kept).

Timing: each epoch's wall time (negative sampling + shuffling + all mini-batches, evaluation
excluded) is measured with ``time.perf_counter``. The first ``--warmup`` epochs are reported
but left out of the median.

Differences from RecBole that do not affect the per-epoch work: RecBole reserves a padding id 0
for users and items (one extra isolated node each in the graph); this script does not. RecBole
draws each batch's negatives when the batch is loaded, this script draws the whole epoch's
negatives at the start of the epoch (inside the timed region). Random streams differ from
RecBole's, so the split is a different random 8:1:1 split with the same per-user sizes.

Requirements: torch, numpy, scipy (CPU is enough).

Example (from the repository root):
    python bench/peer/lightgcn_torch.py --epochs 6 --warmup 1
    python bench/peer/lightgcn_torch.py --epochs 6 --warmup 1 --format csr
    python bench/peer/lightgcn_torch.py --epochs 6 --warmup 1 --sym-backward   # tuned variant
    python bench/peer/lightgcn_torch.py --epochs 20 --eval --eval-every 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(".data/ml-1m/ml-1m.inter")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def load_atomic_inter(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Read a RecBole atomic ``.inter`` file (tab-separated, typed header).

    Returns the user tokens, item tokens and ratings, in file order.
    """
    users: list[str] = []
    items: list[str] = []
    ratings: list[float] = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        names = [h.split(":")[0] for h in header]
        u_col, i_col, r_col = names.index("user_id"), names.index("item_id"), names.index("rating")
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < len(header):
                continue
            users.append(fields[u_col])
            items.append(fields[i_col])
            ratings.append(float(fields[r_col]))
    return users, items, np.asarray(ratings, dtype=np.float64)


def encode_tokens(tokens: list[str]) -> tuple[np.ndarray, int]:
    """Map tokens to dense ids 0..n-1 in order of first appearance."""
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(t, len(index)) for t in tokens), dtype=np.int64,
                      count=len(tokens))
    return ids, len(index)


def k_core_filter(u: np.ndarray, i: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the interactions kept by iterative k-core filtering on users and items.

    Like RecBole's ``_filter_by_inter_num``, each round counts the interactions of every user
    and item among the interactions still kept and drops those of users or items with fewer
    than ``k``; rounds repeat until nothing changes. (The result is the unique maximal
    subgraph in which every user and item has >= k interactions, whatever the order.)
    """
    keep = np.ones(len(u), dtype=bool)
    n_u, n_i = int(u.max()) + 1, int(i.max()) + 1
    while True:
        u_cnt = np.bincount(u[keep], minlength=n_u)
        i_cnt = np.bincount(i[keep], minlength=n_i)
        new_keep = keep & (u_cnt[u] >= k) & (i_cnt[i] >= k)
        if new_keep.sum() == keep.sum():
            return keep
        keep = new_keep


def calcu_split_ids(tot: int, ratios: list[float]) -> list[int]:
    """RecBole's ``Dataset._calcu_split_ids``: cut points for one group of ``tot`` rows."""
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return list(np.cumsum(cnt)[:-1])


def split_by_ratio_per_user(users: np.ndarray, ratios: list[float],
                            rng: np.random.Generator) -> list[np.ndarray]:
    """Random per-user split (RecBole order ``RO`` + ``split_by_ratio(group_by=user)``).

    The interactions are shuffled once globally, then grouped by user keeping that shuffled
    order, and each user's group is cut with ``calcu_split_ids``. Returns one index array per
    part (train, valid, test).
    """
    tot_ratio = sum(ratios)
    ratios = [r / tot_ratio for r in ratios]
    perm = rng.permutation(len(users))
    # Stable sort by user keeps the shuffled order inside each user's group.
    grouped = perm[np.argsort(users[perm], kind="stable")]
    boundaries = np.flatnonzero(np.diff(users[grouped])) + 1
    parts: list[list[np.ndarray]] = [[] for _ in ratios]
    for group in np.split(grouped, boundaries):
        cuts = calcu_split_ids(len(group), ratios)
        for p, piece in enumerate(np.split(group, cuts)):
            parts[p].append(piece)
    return [np.concatenate(p) for p in parts]


class Dataset:
    """MovieLens-1M after RecBole's general-protocol preprocessing and 8:1:1 split."""

    def __init__(self, path: Path, seed: int, min_rating: float = 3.0, k_core: int = 10,
                 ratios: tuple[float, ...] = (0.8, 0.1, 0.1)):
        user_tok, item_tok, rating = load_atomic_inter(path)
        self.raw_interactions = len(rating)
        u_raw, _ = encode_tokens(user_tok)
        i_raw, _ = encode_tokens(item_tok)

        keep = rating >= min_rating
        u_raw, i_raw = u_raw[keep], i_raw[keep]
        self.after_rating_filter = int(keep.sum())

        keep = k_core_filter(u_raw, i_raw, k_core)
        u_raw, i_raw = u_raw[keep], i_raw[keep]

        # Re-index the survivors densely (order of first appearance in the file).
        _, u = np.unique(u_raw, return_inverse=True)
        _, i = np.unique(i_raw, return_inverse=True)
        self.n_users = int(u.max()) + 1
        self.n_items = int(i.max()) + 1
        self.n_interactions = len(u)

        rng = np.random.default_rng(seed)
        train, valid, test = split_by_ratio_per_user(u, list(ratios), rng)
        self.train_u, self.train_i = u[train], i[train]
        self.valid_u, self.valid_i = u[valid], i[valid]
        self.test_u, self.test_i = u[test], i[test]

        # Dense "seen in training" matrix for rejection sampling of negatives
        # (6k x 3.7k booleans for ML-1M: ~22 MB).
        self.train_mask = np.zeros((self.n_users, self.n_items), dtype=bool)
        self.train_mask[self.train_u, self.train_i] = True


def sample_negatives(users: np.ndarray, train_mask: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """One uniform negative item per user, never an item the user has in the training split."""
    n_items = train_mask.shape[1]
    neg = rng.integers(0, n_items, size=len(users))
    bad = np.flatnonzero(train_mask[users, neg])
    while bad.size:
        neg[bad] = rng.integers(0, n_items, size=bad.size)
        bad = bad[train_mask[users[bad], neg[bad]]]
    return neg


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


def normalized_adjacency(n_users: int, n_items: int, u: np.ndarray, i: np.ndarray,
                         fmt: str) -> torch.Tensor:
    """D^-1/2 A D^-1/2 of the (n_users + n_items)-node bipartite graph, as in RecBole."""
    n = n_users + n_items
    rows = np.concatenate([u, i + n_users])
    cols = np.concatenate([i + n_users, u])
    a = sp.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n)).tocsr()
    a.data[:] = 1.0  # binary adjacency even if a pair were repeated
    deg = np.asarray((a > 0).sum(axis=1)).ravel() + 1e-7
    d = sp.diags(np.power(deg, -0.5).astype(np.float32))
    lap = (d @ a @ d).tocoo()
    idx = torch.from_numpy(np.vstack([lap.row, lap.col]).astype(np.int64))
    val = torch.from_numpy(lap.data.astype(np.float32))
    adj = torch.sparse_coo_tensor(idx, val, (n, n), check_invariants=False).coalesce()
    if fmt == "csr":
        adj = adj.to_sparse_csr()
    return adj


class SymmetricSpMM(torch.autograd.Function):
    """y = A x for a SYMMETRIC sparse A, with the backward pass  dx = A dy  (since A^T = A).

    Opt-in (--sym-backward) tuned variant, not what RecBole does: PyTorch's own backward for
    ``torch.sparse.mm`` transposes A on every call (a COO transpose + copy, or for CSR a
    sort-based CSR->CSC conversion), which costs several times the forward product.
    """

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, torch.sparse.mm(ctx.adj, grad)


class LightGCN(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, adj: torch.Tensor, dim: int, layers: int,
                 reg_weight: float, sym_backward: bool = False):
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.adj = adj
        self.spmm = SymmetricSpMM.apply if sym_backward else torch.sparse.mm
        self.layers = layers
        self.reg_weight = reg_weight
        self.user_embedding = torch.nn.Embedding(n_users, dim)
        self.item_embedding = torch.nn.Embedding(n_items, dim)
        torch.nn.init.xavier_uniform_(self.user_embedding.weight)
        torch.nn.init.xavier_uniform_(self.item_embedding.weight)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.user_embedding.weight, self.item_embedding.weight], dim=0)
        layers = [x]
        for _ in range(self.layers):
            x = self.spmm(self.adj, x)
            layers.append(x)
        out = torch.stack(layers, dim=1).mean(dim=1)
        return torch.split(out, [self.n_users, self.n_items])

    def loss(self, user: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        user_all, item_all = self.forward()
        u, p, n = user_all[user], item_all[pos], item_all[neg]
        pos_scores = (u * p).sum(dim=1)
        neg_scores = (u * n).sum(dim=1)
        mf_loss = -torch.log(1e-10 + torch.sigmoid(pos_scores - neg_scores)).mean()
        # RecBole EmbLoss(require_pow=False): sum of L2 norms / batch size.
        reg_loss = (self.user_embedding(user).norm(2) + self.item_embedding(pos).norm(2)
                    + self.item_embedding(neg).norm(2)) / user.shape[0]
        return mf_loss + self.reg_weight * reg_loss


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate(model: LightGCN, data: Dataset, k: int = 10, batch_users: int = 1024
             ) -> tuple[float, float]:
    """Full-ranking NDCG@k and Recall@k on the test split, train + valid items masked.

    Averaged over users with at least one test item (RecBole's full-sort evaluation).
    """
    model.eval()
    user_all, item_all = model.forward()
    seen = data.train_mask.copy()
    seen[data.valid_u, data.valid_i] = True
    test = np.zeros_like(seen)
    test[data.test_u, data.test_i] = True
    seen_t, test_t = torch.from_numpy(seen), torch.from_numpy(test)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))
    users = np.unique(data.test_u)
    ndcg_sum = recall_sum = 0.0
    for start in range(0, len(users), batch_users):
        ub = torch.from_numpy(users[start:start + batch_users])
        scores = user_all[ub] @ item_all.T
        scores[seen_t[ub]] = -torch.inf
        top = scores.topk(k, dim=1).indices
        hits = torch.gather(test_t[ub], 1, top).double()
        n_pos = test_t[ub].sum(dim=1).double()
        dcg = (hits * discount).sum(dim=1)
        ideal_len = torch.clamp(n_pos, max=k).long()
        idcg = torch.cumsum(discount, 0)[ideal_len - 1]
        ndcg_sum += (dcg / idcg).sum().item()
        recall_sum += (hits.sum(dim=1) / n_pos).sum().item()
    model.train()
    return ndcg_sum / len(users), recall_sum / len(users)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_avg() -> str:
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "n/a"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="PyTorch CPU LightGCN (RecBole protocol) seconds-per-epoch benchmark.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="RecBole atomic .inter file; a relative path is taken from the "
                         "repository root")
    ap.add_argument("--epochs", type=int, default=6, help="epochs to train")
    ap.add_argument("--warmup", type=int, default=1,
                    help="leading epochs left out of the median seconds/epoch")
    ap.add_argument("--seed", type=int, default=2020, help="seed for split, init and sampling")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--format", choices=["coo", "csr"], default="coo",
                    help="sparse layout of the normalised adjacency (RecBole uses COO)")
    ap.add_argument("--sym-backward", action="store_true",
                    help="tuned variant (not RecBole's): backward of each propagation as A @ grad, "
                         "using the symmetry of A, instead of autograd's transpose of A")
    ap.add_argument("--dim", type=int, default=64, help="embedding size")
    ap.add_argument("--layers", type=int, default=3, help="propagation layers")
    ap.add_argument("--batch-size", type=int, default=2048, help="training batch size")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    ap.add_argument("--reg-weight", type=float, default=1e-5, help="EmbLoss weight")
    ap.add_argument("--eval", action="store_true",
                    help="report full-ranking NDCG@10 / Recall@10 on the test split")
    ap.add_argument("--eval-every", type=int, default=0,
                    help="with --eval, also evaluate every N epochs (0: only at the end)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_path = args.data if args.data.is_absolute() else REPO_ROOT / args.data
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    print("command:", shlex.join([sys.executable] + sys.argv))
    print(f"seed: {args.seed}")
    print(f"torch: {torch.__version__}  numpy: {np.__version__}  python: {platform.python_version()}")
    print(f"cpu: {cpu_model()}  (logical cpus: {os.cpu_count()})")
    print(f"threads: torch.get_num_threads()={torch.get_num_threads()}")
    print(f"sparse format: {args.format}  backward: "
          f"{'symmetric A @ grad (tuned)' if args.sym_backward else 'torch autograd (RecBole)'}")
    print(f"load average at start: {load_avg()}")

    t0 = time.perf_counter()
    data = Dataset(data_path, seed=args.seed)
    print(f"data: {data_path}")
    print(f"  raw interactions {data.raw_interactions}, rating>=3 {data.after_rating_filter}, "
          f"after 10-core {data.n_interactions}")
    print(f"  users {data.n_users}  items {data.n_items}")
    print(f"  train {len(data.train_u)}  valid {len(data.valid_u)}  test {len(data.test_u)}")
    print(f"  prepared in {time.perf_counter() - t0:.2f} s")

    adj = normalized_adjacency(data.n_users, data.n_items, data.train_u, data.train_i,
                               args.format)
    nnz = adj._nnz() if args.format == "coo" else adj.values().numel()
    print(f"graph: {adj.shape[0]} nodes, {nnz} non-zeros ({args.format})")

    model = LightGCN(data.n_users, data.n_items, adj, args.dim, args.layers, args.reg_weight,
                     args.sym_backward)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    print(f"model: dim {args.dim}, layers {args.layers}, batch {args.batch_size}, "
          f"lr {args.lr}, reg_weight {args.reg_weight}")

    train_u, train_i = data.train_u, data.train_i
    n_train = len(train_u)
    n_batches = (n_train + args.batch_size - 1) // args.batch_size
    epoch_secs: list[float] = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        perm = rng.permutation(n_train)
        users = train_u[perm]
        pos = train_i[perm]
        neg = sample_negatives(users, data.train_mask, rng)
        users_t, pos_t, neg_t = (torch.from_numpy(a) for a in (users, pos, neg))
        loss_sum = 0.0
        for b in range(n_batches):
            s = slice(b * args.batch_size, (b + 1) * args.batch_size)
            loss = model.loss(users_t[s], pos_t[s], neg_t[s])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
        secs = time.perf_counter() - start
        epoch_secs.append(secs)
        tag = " (warm-up)" if epoch <= args.warmup else ""
        line = (f"epoch {epoch:3d}: {secs:8.3f} s  loss sum {loss_sum:.4f}  "
                f"mean {loss_sum / n_batches:.6f}  load {load_avg()}{tag}")
        if args.eval and args.eval_every and epoch % args.eval_every == 0 and epoch != args.epochs:
            ndcg, recall = evaluate(model, data)
            line += f"  NDCG@10 {ndcg:.4f}  Recall@10 {recall:.4f}"
        print(line, flush=True)

    timed = epoch_secs[args.warmup:] or epoch_secs
    print(f"batches per epoch: {n_batches}")
    print(f"median seconds/epoch over epochs {len(epoch_secs) - len(timed) + 1}..{len(epoch_secs)}"
          f" ({len(timed)} epochs): {statistics.median(timed):.3f}")
    print(f"median seconds/epoch over all {len(epoch_secs)} epochs: "
          f"{statistics.median(epoch_secs):.3f}")
    print(f"load average at end: {load_avg()}")
    if args.eval:
        ndcg, recall = evaluate(model, data)
        print(f"test (full ranking, train+valid masked): NDCG@10 {ndcg:.4f}  "
              f"Recall@10 {recall:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
