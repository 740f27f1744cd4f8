#!/usr/bin/env bash
# CPU time of supernet training steps under each allocator setting (user and system seconds).
# mimalloc with purging off (the default build) against mimalloc's own default and glibc.
set -euo pipefail
cd "$(dirname "$0")/.."
arc="0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1"
cargo build --release --quiet && cp target/release/enas /tmp/enas-mimalloc
cargo build --release --quiet --features system-alloc && cp target/release/enas /tmp/enas-glibc
cargo build --release --quiet
run() { local name=$1; shift; /usr/bin/time -f "$name: user %U s, sys %S s, wall %e s" env RAYON_NUM_THREADS=2 "$@" bench-step --steps "${STEPS:-5}" --set child.layers=6 --set child.channels=20 --arc "$arc" >/dev/null; }
run "mimalloc, purge off (default)" /tmp/enas-mimalloc
run "mimalloc, purge after 10 ms" env MIMALLOC_PURGE_DELAY=10 /tmp/enas-mimalloc
run "glibc malloc" /tmp/enas-glibc
