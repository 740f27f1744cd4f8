#!/usr/bin/env bash
# `enas proxy --proxy latency` against HELP's measured Pixel 3 latencies and the FLOP count:
# N NAS-Bench-201 cells (seed 0) measured twice here, one thread each time; prints the Spearman
# correlation of the first measurement with latency_pixel3_ms and with flops, and the run-to-run
# spread (Spearman of the two runs, median and 90th percentile of |run1 - run2| / run1).
#   scripts/latency-check.sh [N] [DATA_DIR]     (defaults: 200, $ENAS_DATA_DIR or ../shared/data)
# Needs python3 (standard library only) for the correlations. The numbers depend on this
# machine and its load: say what else was running when you report them.
set -euo pipefail
n=${1:-200}
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 3 ] || { echo "latency-check: N must be a whole number of at least 3 (a rank correlation of fewer means nothing), got '$n'" >&2; exit 2; }
data=${2:-${ENAS_DATA_DIR:-}}
# Paths given are taken from where the script was called; it then runs from the repository root.
[ -n "$data" ] && data=$(realpath -m -- "$data")
cd "$(dirname "$0")/.."
data=${data:-../shared/data}
pixel3="$data/nb201/latency_pixel3.csv"
[ -f "$pixel3" ] || { echo "latency-check: no $pixel3 (give DATA_DIR or set ENAS_DATA_DIR)" >&2; exit 2; }
cargo build --release -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for run in 1 2; do
  ./target/release/enas proxy --proxy latency,flops --sample "$n" --seed 0 --out "$out/run$run.csv" >/dev/null
done
python3 - "$out/run1.csv" "$out/run2.csv" "$pixel3" <<'PY'
import csv, sys
def ranks(x):
    order = sorted(range(len(x)), key=lambda i: x[i]); r = [0.0] * len(x); i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]: j += 1
        for k in range(i, j + 1): r[order[k]] = (i + j) / 2
        i = j + 1
    return r
def spearman(a, b):
    ra, rb = ranks(a), ranks(b); n = len(a); ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    return cov / (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
r1 = list(csv.DictReader(open(sys.argv[1]))); r2 = {r['arch']: r for r in csv.DictReader(open(sys.argv[2]))}
p3 = {r['arch']: float(r['latency_pixel3_ms']) for r in csv.DictReader(open(sys.argv[3]))}
lat1 = [float(r['latency']) for r in r1]; lat2 = [float(r2[r['arch']]['latency']) for r in r1]
flops = [float(r['flops']) for r in r1]; pix = [p3[r['arch']] for r in r1]
rel = sorted(abs(a - b) / a for a, b in zip(lat1, lat2))
print(f"{len(r1)} cells; latency here: median {sorted(lat1)[len(lat1)//2]:.3f} ms (one thread, batch 1)")
print(f"Spearman(latency here, latency_pixel3_ms) = {spearman(lat1, pix):.3f}")
print(f"Spearman(latency here, flops)             = {spearman(lat1, flops):.3f}")
print(f"Spearman(flops, latency_pixel3_ms)        = {spearman(flops, pix):.3f}")
print(f"run to run: Spearman {spearman(lat1, lat2):.3f}; |run1 - run2| / run1 median {rel[len(rel)//2]:.3f}, 90th percentile {rel[int(0.9*(len(rel)-1))]:.3f}")
PY
