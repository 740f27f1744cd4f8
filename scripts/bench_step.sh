#!/usr/bin/env bash
# One supernet training step (forward, backward, clip 5, SGD-nesterov), enas vs the PyTorch
# reference, back to back on this machine, same config, batch and thread count.
#   scripts/bench_step.sh [STEPS]            (needs $TORCH_PY, default ~/torchref/bin/python)
# Set up the reference once: python3 -m venv ~/torchref && ~/torchref/bin/pip install torch numpy
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-10}"
threads="${THREADS:-2}"
arc="0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1"
py="${TORCH_PY:-$HOME/torchref/bin/python}"
cargo build --release --quiet
for fixed in yes no; do
  args=(); [ "$fixed" = yes ] && args=(--arc "$arc")
  RAYON_NUM_THREADS="$threads" ./target/release/enas bench-step --steps "$steps" --set child.layers=6 --set child.channels=20 --set child.nodes=5 "${args[@]}"
  if [ -x "$py" ]; then
    "$py" ../shared/bench/torch_enas_micro.py --steps "$steps" --threads "$threads" "${args[@]}"
  else
    echo "no PyTorch at $py: set TORCH_PY" >&2
  fi
done
