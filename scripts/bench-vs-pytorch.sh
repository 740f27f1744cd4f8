#!/usr/bin/env bash
# The ENAS supernet training step, enas (candle) against the PyTorch reference
# (../shared/bench/torch_enas_micro.py), on this machine, back to back, alternating round by round.
#
#   scripts/bench-vs-pytorch.sh [--setup] [--rounds R] [--steps N] [--threads T] [--quick]
#
# Settings (the issue's): ENAS's default search child (6 layers, 20 channels, 5 nodes, 32x32x3),
# batch 64 with ENAS's published arc, batch 64 with a fresh random arc every step, and batch 16
# and 256 with the published arc. For each it prints both medians (the median over rounds of each
# round's median step), the ratio enas/PyTorch, and the achieved GFLOP/s of each (the step's
# FLOPs as `enas bench-step` counts them, 3x the forward's; the forward matches PyTorch's own
# counter, 10.4 GFLOP at batch 64). --quick runs only batch 64 with the fixed arc.
#
# PyTorch comes from $TORCH_PY (default ~/torchref/bin/python); --setup creates that venv
# (python3 -m venv, pip install torch numpy: a few GB, needs the package index).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 steps=10 threads=2 setup=no quick=no
while [ $# -gt 0 ]; do
  case "$1" in
    --setup) setup=yes ;;
    --rounds) rounds="${2?$1 needs a value}"; shift ;;
    --steps) steps="${2?$1 needs a value}"; shift ;;
    --threads) threads="${2?$1 needs a value}"; shift ;;
    --quick) quick=yes ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
for v in "rounds=$rounds" "steps=$steps" "threads=$threads"; do
  [[ "${v#*=}" =~ ^[1-9][0-9]*$ ]] || { echo "--${v%%=*} must be a whole number of at least 1, got '${v#*=}'" >&2; exit 2; }
done
py="${TORCH_PY:-$HOME/torchref/bin/python}"
if [ "$setup" = yes ] && [ ! -x "$py" ]; then
  python3 -m venv "$HOME/torchref"
  "$HOME/torchref/bin/pip" install torch numpy
  py="$HOME/torchref/bin/python"
fi
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "PyTorch is missing: no working torch at $py. Run with --setup, or set TORCH_PY to a python with torch." >&2
  exit 2
fi
cargo build --release --quiet
arc="0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1"
net=(--set child.layers=6 --set child.channels=20 --set child.nodes=5)
settings=("fixed 64" "random 64" "fixed 16" "fixed 256")
[ "$quick" = yes ] && settings=("fixed 64")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for s in "${settings[@]}"; do
  read -r kind batch <<<"$s"
  args=(); [ "$kind" = fixed ] && args=(--arc "$arc")
  n=$steps; [ "$batch" -ge 256 ] && n=$(( (steps + 1) / 2 ))
  for r in $(seq "$rounds"); do
    e=$(RAYON_NUM_THREADS="$threads" ./target/release/enas bench-step --steps "$n" --batch "$batch" "${net[@]}" "${args[@]}")
    t=$("$py" ../shared/bench/torch_enas_micro.py --steps "$n" --batch "$batch" --threads "$threads" "${args[@]}")
    echo "$kind $batch enas $e" >>"$out"
    echo "$kind $batch torch $t" >>"$out"
    echo "  $kind arc, batch $batch, round $r/$rounds: enas $(echo "$e" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ms_per_step_median"])') ms, PyTorch $(echo "$t" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ms_per_step_median"])') ms" >&2
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kind, batch, impl, js = line.split(" ", 3)
    rows.setdefault((kind, int(batch)), {}).setdefault(impl, []).append(json.loads(js))
print(f"{'setting':<22}{'enas ms':>10}{'torch ms':>10}{'ratio':>8}{'enas GFLOP/s':>14}{'torch GFLOP/s':>15}")
for (kind, batch), r in rows.items():
    em = statistics.median(x["ms_per_step_median"] for x in r["enas"])
    tm = statistics.median(x["ms_per_step_median"] for x in r["torch"])
    gflop = statistics.mean(x["step_gflop"] for x in r["enas"])
    print(f"{kind + ' arc, batch ' + str(batch):<22}{em:>10.1f}{tm:>10.1f}{em / tm:>8.2f}{gflop / em * 1e3:>14.1f}{gflop / tm * 1e3:>15.1f}")
print(f"threads {r['enas'][0]['threads']}, {len(r['enas'])} rounds; ratio = enas median / PyTorch median (lower is faster)")
PY
