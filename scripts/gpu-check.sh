#!/usr/bin/env bash
# One script for a GPU machine that has PyTorch but no cargo: it runs an `enas` built here with
# `--features cuda` (scripts/cuda-toolchain.sh), with the CUDA libraries it needs carried beside it
# in BIN_DIR/lib, and ends with one summary. Under 8 minutes on an H100/H200-class GPU.
#
#   scripts/gpu-check.sh [--dry-run] [--bin PATH] [--data DIR] [--out DIR]
#
#   --dry-run   everything but the GPU: --device cpu, no nvidia-smi, small sizes (runs here, in CI
#               time; the PyTorch peers run only where `python3 -c 'import torch'` works)
#   --bin       the enas binary (default: target/cuda/release/enas, else target/release/enas)
#   --data      the team data folder with cifar10-subset/ (default: $ENAS_DATA_DIR or ../shared/data;
#               without it the short search uses the synthetic images and says so)
#   --out       where each step's output goes (default: a new temporary directory)
#
# Steps: nvidia-smi; `enas device-check` (the ENAS, NB201 and DARTS supernet steps on the GPU by
# the generic ops, against the CPU kernels, fixed arcs and seeds); `enas bench-step` at the
# default config for batch 64 and 256 beside ../shared/bench/torch_enas_micro.py, and the DARTS
# iteration beside torch_darts_search.py, all with the same device; a short search on the
# CIFAR-10 subset. Exit status: 0 when every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/.."

dry=0; bin=""; data="${ENAS_DATA_DIR:-../shared/data}"; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --bin) bin="${2?$1 needs a value}"; shift ;;
    --data) data="${2?$1 needs a value}"; shift ;;
    --out) out="${2?$1 needs a value}"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$bin" ]; then
  for b in target/cuda/release/enas target/release/enas; do [ -x "$b" ] && { bin="$b"; break; }; done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "gpu-check: no enas binary${bin:+ at '$bin'} (build one, or give --bin)" >&2; exit 2; }
[ -d "$(dirname "$bin")/lib" ] && export LD_LIBRARY_PATH="$(cd "$(dirname "$bin")/lib" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
out="${out:-$(mktemp -d)}"; mkdir -p "$out"
py="${PYTHON:-python3}"
# cuBLAS, cuRAND and cudart: from BIN_DIR/lib when carried there, else from the NVIDIA wheels
# PyTorch installed (a CUDA 13 PyTorch brings cuBLAS and cudart, not cuRAND) or a system CUDA
# toolkit. A stripped binary is 59 MB (7 MB xz-compressed); libcurand.so.10 is 133 MB.
if [ "$dry" = 0 ]; then
  wheels=$("$py" -c 'import nvidia, os; print(" ".join(sorted({os.path.dirname(os.path.join(r, f)) for p in nvidia.__path__ for r, _, fs in os.walk(p) for f in fs if ".so" in f})))' 2>/dev/null || true)
  for d in $wheels /usr/local/cuda/lib64 /usr/local/cuda/targets/*/lib; do
    [ -d "$d" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
  done
  export LD_LIBRARY_PATH
  if ldd "$bin" | grep -q "not found"; then
    echo "gpu-check: $bin lacks libraries:" >&2; ldd "$bin" | grep "not found" >&2; exit 2
  fi
fi
torch=0; "$py" -c 'import torch' >/dev/null 2>&1 && torch=1

if [ "$dry" = 1 ]; then
  dev=cpu; tdev=cpu; steps=(--steps 2 --warmup 1)
  enas_sizes=(--set child.layers=2 --set child.channels=8); darts_sizes=(--set child.layers=3 --set child.channels=4)
  tsteps=(--steps 2 --warmup 1); tenas=(--layers 2 --channels 8); tdarts=(--layers 3 --channels 4 --steps 1 --warmup 1)
  batches=(16 32); darts_steps=1
  # The search: quick.yaml's sizes (4 weight steps of a 1-layer, 4-channel supernet) on the data.
  search_args=(--config configs/quick.yaml --set search.epochs=1); search_what="1 epoch of quick.yaml"
else
  dev=cuda; tdev=cuda; steps=(--steps 20 --warmup 3)
  enas_sizes=(); darts_sizes=(); tsteps=(--steps 20 --warmup 3); tenas=(); tdarts=(--steps 5 --warmup 1)
  batches=(64 256); darts_steps=5
  search_args=(--config configs/cifar10-search.yaml --set search.epochs=3); search_what="3 epochs of cifar10-search.yaml"
fi
arc="0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1"  # ENAS's published cell
summary=()
failed=0
# step NAME LIMIT_S COMMAND...: runs it with a time limit, keeps its output, records the verdict.
step() {
  local name="$1" limit="$2"; shift 2
  local log="$out/$(echo "$name" | tr ' /' '__').log" t0=$SECONDS rc
  echo "== $name: $*"
  timeout "$limit" "$@" >"$log" 2>&1; rc=$?
  tail -n 8 "$log"
  if [ $rc = 0 ]; then summary+=("PASS  $name ($((SECONDS - t0)) s)"); else
    summary+=("FAIL  $name (exit $rc after $((SECONDS - t0)) s; $log)"); failed=1; fi
}
skip() { summary+=("SKIP  $1 ($2)"); echo "== $1: skipped, $2"; }

if [ "$dry" = 1 ]; then skip "nvidia-smi" "dry run"; else step "nvidia-smi" 30 nvidia-smi; fi
step "device-check ($dev vs the CPU kernels)" 120 "$bin" device-check --device "$dev"
for b in "${batches[@]}"; do
  step "enas bench-step batch $b" 120 "$bin" bench-step --device "$dev" --arc "$arc" --batch "$b" "${steps[@]}" "${enas_sizes[@]}"
  if [ $torch = 1 ]; then
    step "torch_enas_micro.py batch $b" 120 "$py" ../shared/bench/torch_enas_micro.py --device "$tdev" --arc "$arc" \
      --batch "$b" "${tsteps[@]}" "${tenas[@]}"
  else skip "torch_enas_micro.py batch $b" "no torch for $py"; fi
done
step "enas bench-step --space darts" 150 "$bin" bench-step --space darts --device "$dev" --batch "${batches[0]}" \
  --steps "$darts_steps" --warmup 1 "${darts_sizes[@]}"
if [ $torch = 1 ]; then
  step "torch_darts_search.py" 150 "$py" ../shared/bench/torch_darts_search.py --device "$tdev" --batch "${batches[0]}" "${tdarts[@]}"
else skip "torch_darts_search.py" "no torch for $py"; fi
if [ -d "$data/cifar10-subset" ]; then spec="cifar10:$data/cifar10-subset"; else
  spec=synthetic; echo "== no $data/cifar10-subset: the short search uses the synthetic images"; fi
step "short search ($spec, $search_what)" 240 "$bin" search "${search_args[@]}" --device "$dev" --data "$spec" \
  --out "$out/search"

echo
echo "gpu-check summary (binary $bin, device $dev, outputs in $out):"
printf '  %s\n' "${summary[@]}"
exit $failed
