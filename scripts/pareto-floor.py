#!/usr/bin/env python3
"""How low `enas bench --objective pareto`'s regret can go, from the table alone (stdlib only).

The bench's regret under cost budgets picks, within each budget (the 10th..90th percentiles of
the cost column), the queried cell with the best *reward* and scores its *final* accuracy. So
even a strategy that queried every cell keeps a regret (the floor the bench prints as "every
architecture queried"); a strategy gets under it only by not querying the cells whose reward
misleads. This script computes that floor, and the regret of querying exactly:

  * the head of the whole table ranked by NSGA-II on (synflow, cost) (non-dominated rank, then
    crowding distance on log synflow and cost): what a proxy-and-cost ranking could reach;
  * the cells whose synflow reaches the q quantile of synflow within their ninth of the cost
    range (the set `strategy.sweep.gate: q` keeps proxy-sweep in, with the whole table's ninths
    as bands): why a gate helps on one cost and not on another.

Synflow of every cell comes from `enas proxy` (about 8 minutes on one thread):

  tail -n +2 ../shared/data/nb201/cifar10.csv | cut -d, -f2 > all-archs.txt
  enas proxy --proxy synflow --archs all-archs.txt --set threads=1 --out synflow-all.csv
  python3 scripts/pareto-floor.py --table ../shared/data/nb201/cifar10.csv \\
      --cost-table ../shared/data/nb201/latency_pixel3.csv --cost-column latency_pixel3_ms \\
      --synflow synflow-all.csv

Among equal rewards the first queried is the pick, as in the bench: table order for every cell
and the gated sets, rank order for a head; a budget no chosen cell fits counts its worst cell.
"""
import argparse
import csv
import math
import sys


def quantile(sorted_xs, q):
    """numpy's default (linear) quantile of an ascending list."""
    pos = q * (len(sorted_xs) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def read_rows(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit(f"{path}: cannot read: {e.strerror}")
    if not rows:
        sys.exit(f"{path}: no rows under the header")
    return rows


def number(path, rows, column):
    """A row's value of `column` as a number; else exit naming the file, line and value."""
    for i, r in enumerate(rows):
        try:
            yield float(r[column])
        except (TypeError, ValueError):
            sys.exit(f"{path}: line {i + 2}, column `{column}`: {r[column]!r} is not a number")


def read_column(path, key_column, column, what):
    rows = read_rows(path)
    if key_column not in rows[0] or column not in rows[0]:
        sys.exit(f"{path}: expected columns `{key_column}` and `{column}` ({what}); it has {', '.join(rows[0])}")
    return dict(zip((r[key_column] for r in rows), number(path, rows, column)))


def nsga_order(score, cost, cells):
    """Cells by non-dominated rank on (score up, cost down), each front by crowding distance."""
    order = sorted(cells, key=lambda i: (cost[i], -score[i]))
    fronts, best = [], []  # best[k]: the highest score in front k so far (cost ascending)
    for i in order:
        k = 0
        while k < len(best) and (best[k][0] > score[i] or (best[k][0] == score[i] and best[k][1] < cost[i])):
            k += 1
        if k == len(best):
            best.append((score[i], cost[i]))
            fronts.append([i])
        else:
            fronts[k].append(i)
            if score[i] > best[k][0]:
                best[k] = (score[i], cost[i])
    out = []
    for f in fronts:
        dist = {i: 0.0 for i in f}
        for v in (score, cost):
            o = sorted(f, key=lambda i: v[i])
            lo, hi = v[o[0]], v[o[-1]]
            dist[o[0]] = dist[o[-1]] = math.inf
            if hi > lo:
                for a in range(1, len(o) - 1):
                    dist[o[a]] += (v[o[a + 1]] - v[o[a - 1]]) / (hi - lo)
        out += sorted(f, key=lambda i: -dist[i])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--table", required=True)
    p.add_argument("--cost-table", required=True)
    p.add_argument("--cost-column", required=True)
    p.add_argument("--synflow", required=True, help="CSV with columns arch, synflow (enas proxy --out)")
    p.add_argument("--arch-column", default="arch")
    p.add_argument("--reward-column", default="valid_acc_12ep")
    p.add_argument("--final-column", default="test_acc_200ep")
    a = p.parse_args()

    rows = read_rows(a.table)
    for c in (a.arch_column, a.reward_column, a.final_column):
        if c not in rows[0]:
            sys.exit(f"{a.table}: no column `{c}`")
    arch = [r[a.arch_column] for r in rows]
    reward = list(number(a.table, rows, a.reward_column))
    final = list(number(a.table, rows, a.final_column))
    costs = read_column(a.cost_table, a.arch_column, a.cost_column, "the cost")
    flows = read_column(a.synflow, "arch", "synflow", "synflow scores")
    for what, table in (("cost table", costs), ("synflow file", flows)):
        missing = [x for x in arch if x not in table]
        if missing:
            sys.exit(f"{what}: no row for {len(missing)} architectures, e.g. {missing[0]}")
    cost = [costs[x] for x in arch]
    score = [math.log(flows[x] + 1e-30) for x in arch]
    n = len(arch)
    by_cost = sorted(cost)
    budgets = [quantile(by_cost, k / 10) for k in range(1, 10)]
    within = [[i for i in range(n) if cost[i] <= b] for b in budgets]

    def regret(queried):
        """Per budget; `queried` in query order (the first of equal rewards is the pick)."""
        per = []
        for b, cells in zip(budgets, within):
            best = max(final[i] for i in cells)
            pick = None
            for i in queried:
                if cost[i] <= b and (pick is None or reward[i] > reward[pick]):
                    pick = i
            per.append(best - (final[pick] if pick is not None else min(final[i] for i in cells)))
        return per

    def show(label, queried):
        per = regret(queried)
        cells = " ".join(f"{r:5.2f}" for r in per)
        print(f"{label:<28} {len(queried):6d}  {sum(per) / len(per):.3f}   {cells}")

    print(f"{n} cells; reward {a.reward_column}, final {a.final_column}, cost {a.cost_column}")
    print("budgets (10th..90th percentile): " + ", ".join(f"{b:.4g}" for b in budgets))
    print(f"{'queried':<28} {'cells':>6}  regret  per budget")
    show("every cell (the floor)", range(n))
    ranked = nsga_order(score, cost, range(n))
    for k in (30, 100, 200, 500, 1000, 2000, 5000):
        show(f"head {k} of (synflow, cost)", ranked[:k])
    limits = [quantile(by_cost, k / 9) for k in range(1, 9)]
    band = [sum(c > l for l in limits) for c in cost]
    for q in (0.5, 0.75, 0.9, 0.95, 0.98, 0.99):
        thresholds = [quantile(sorted(score[i] for i in range(n) if band[i] == b), q) for b in range(9)]
        show(f"band gate q = {q}", [i for i in range(n) if score[i] >= thresholds[band[i]]])


if __name__ == "__main__":
    main()
