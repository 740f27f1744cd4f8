#!/usr/bin/env bash
# One first-order DARTS search iteration (architecture step on a validation batch, then weight
# step on a train batch), enas (`enas bench-step --space darts`) against PyTorch eager and
# PyTorch with torch.compile (../shared/bench/torch_darts_search.py, --compile), back to back on
# this machine, same sizes and threads. Prints, per setting, the median ms of each, the ratios
# enas/eager and enas/compiled (issue targets: at most 0.5 and 1.0), and each process's peak
# resident memory (GNU time's maximum RSS; target: enas at most PyTorch's).
#
#   scripts/darts-speed-vs-pytorch.sh [--threads T] [--steps N] [--no-compile] [--only cpu|paper]
#
# Settings: `cpu` = 5 layers, 8 channels, batch 32 (the issue's CPU-sized figure: eager 2,687 ms,
# compiled 1,862 ms at 2 threads); `paper` = DARTS's search network, 8 layers, 16 channels, batch
# 64. torch.compile takes minutes per setting before its first step (about 9 at the CPU size on
# 2 cores): the whole script takes most of an hour on 2 cores. PyTorch from $TORCH_PY (default
# ~/torchref/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 steps=3 compile=yes only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="${2?$1 needs a value}"; shift ;;
    --steps) steps="${2?$1 needs a value}"; shift ;;
    --no-compile) compile=no ;;
    --only) only="${2?$1 needs a value}"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$only" in ""|cpu|paper) ;; *) echo "--only must be cpu or paper, got '$only'" >&2; exit 2 ;; esac
py="${TORCH_PY:-$HOME/torchref/bin/python}"
"$py" -c "import torch" 2>/dev/null || { echo "no working torch at $py (set TORCH_PY)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time for the peak memory" >&2; exit 2; }
cargo build --release --quiet
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A sizes=([cpu]="5 8 32" [paper]="8 16 64")
for name in cpu paper; do
  [ -n "$only" ] && [ "$only" != "$name" ] && continue
  read -r layers channels batch <<<"${sizes[$name]}"
  run() { # IMPL COMMAND...: the command's JSON line and its peak RSS (kB)
    local impl="$1"; shift
    /usr/bin/time -f "%M" -o "$out/$name.$impl.rss" "$@" >"$out/$name.$impl.json"
    echo "  $name $impl: $(tail -n 1 "$out/$name.$impl.json" | cut -c1-120)" >&2
  }
  run enas env RAYON_NUM_THREADS="$threads" ./target/release/enas bench-step --space darts --batch "$batch" \
    --steps "$steps" --warmup 1 --set child.layers="$layers" --set child.channels="$channels" --set child.nodes=4
  targs=(--layers "$layers" --channels "$channels" --batch "$batch" --steps "$steps" --warmup 1 --threads "$threads")
  run eager "$py" ../shared/bench/torch_darts_search.py "${targs[@]}"
  [ "$compile" = yes ] && run compiled "$py" ../shared/bench/torch_darts_search.py "${targs[@]}" --compile
done
python3 - "$out" <<'PY'
import json, os, sys
d = sys.argv[1]
def get(name, impl):
    p = os.path.join(d, f"{name}.{impl}.json")
    if not os.path.exists(p):
        return None, None
    ms = json.loads(open(p).read().strip().splitlines()[-1])["ms_per_step_median"]
    rss = int(open(os.path.join(d, f"{name}.{impl}.rss")).read().split()[-1]) / 1024
    return ms, rss
print(f"{'setting':<34}{'enas ms':>9}{'eager ms':>10}{'compiled':>10}{'/eager':>8}{'/compiled':>10}"
      f"{'enas MB':>9}{'eager MB':>9}{'comp. MB':>9}")
for name, what in [("cpu", "5 layers, 8 ch, batch 32"), ("paper", "8 layers, 16 ch, batch 64")]:
    e, em = get(name, "enas")
    if e is None:
        continue
    t, tm = get(name, "eager")
    c, cm = get(name, "compiled")
    f = lambda x, p=0: "-" if x is None else f"{x:.{p}f}"
    print(f"{name + ' (' + what + ')':<34}{e:>9.0f}{t:>10.0f}{f(c):>10}{e / t:>8.2f}{f(c and e / c, 2):>10}"
          f"{em:>9.0f}{tm:>9.0f}{f(cm):>9}")
print("ratios: enas median / PyTorch median (targets: /eager <= 0.5, /compiled <= 1.0); MB: peak RSS")
PY
