#!/usr/bin/env bash
# Sets up, on a machine with no CUDA installed (and no GPU), everything that
#   cargo build --release --features cuda
# needs: NVIDIA's CUDA wheels from PyPI in a Python virtual environment, a directory laid out like
# a CUDA toolkit (bin/ include/ lib64/ nvvm/) made of symlinks into them, the unversioned .so
# links the linker wants, a stub libcuda.so (the driver API; no driver on a build machine), and
# an env.sh that exports what the build reads. Re-running reuses what is there.
#
#   scripts/cuda-toolchain.sh [-v CUDA_VERSION] [-d DIR] [-c COMPUTE_CAP] [-f]
#   source "$DIR/env.sh" && cargo build --release --features cuda
#
# Needs: bash, python3 with venv and pip, a C compiler (cc), network to PyPI. Linux x86_64/aarch64.
set -euo pipefail

usage() {
  cat <<EOF
usage: $0 [-v CUDA_VERSION] [-d DIR] [-c COMPUTE_CAP] [-f] [-h]

Installs NVIDIA's CUDA toolchain wheels (nvcc, nvvm, crt, runtime, cccl, cublas, curand, nvrtc)
from PyPI into DIR/venv, assembles a toolkit-like DIR/cuda, builds a stub DIR/cuda/lib64/stubs/
libcuda.so and writes DIR/env.sh. Then:  source DIR/env.sh && cargo build --release --features cuda

  -v CUDA_VERSION  CUDA major.minor (default 13.0; known: ${KNOWN_VERSIONS}). Pick one the target
                   GPU's driver supports: driver R580 supports up to 13.0.
  -d DIR           install directory (default \${ENAS_CUDA_DIR:-\$HOME/.cache/enas-cuda-<version>})
  -c COMPUTE_CAP   GPU compute capability the kernels are built for, CUDA_COMPUTE_CAP
                   (default \${CUDA_COMPUTE_CAP:-90}: Hopper, H100/H200; 80 = A100, 89 = L4/4090)
  -f               force: delete DIR/venv and install again
  -h               this help
EOF
}

die() { echo "cuda-toolchain: error: $*" >&2; exit 1; }
say() { echo "cuda-toolchain: $*" >&2; }

# CUDA version -> the wheels that shipped with it. nvcc, nvvm, crt, runtime, cccl and nvrtc carry
# the toolkit's version (13.0.*); cuRAND and cuBLAS have their own numbering, matched here from
# PyPI's release dates (cuRAND 10.4.0 came with 13.0, 10.4.1 with 13.1, ...). Add a row for a
# new version (cudarc 0.19.10, the version candle 0.11.1 uses, knows CUDA up to 13.4).
KNOWN_VERSIONS="13.0 13.1 13.2"
pins_for() {
  case "$1" in
    13.0) CURAND_PIN="10.4.0.*"; CUBLAS_PIN="13.0.*" ;;
    13.1) CURAND_PIN="10.4.1.*"; CUBLAS_PIN="13.2.*" ;;
    13.2) CURAND_PIN="10.4.2.*"; CUBLAS_PIN="13.3.*" ;;
    *) die "unknown CUDA version '$1' (known: ${KNOWN_VERSIONS}); add its cuRAND and cuBLAS pins to pins_for() in $0" ;;
  esac
}

VERSION="13.0"; DIR=""; CAP="${CUDA_COMPUTE_CAP:-90}"; FORCE=0
while getopts "v:d:c:fh" opt; do
  case "$opt" in
    v) VERSION="$OPTARG" ;;
    d) DIR="$OPTARG" ;;
    c) CAP="$OPTARG" ;;
    f) FORCE=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; die "unexpected argument '$1'"; }

[[ "$VERSION" =~ ^([0-9]+)\.([0-9]+)$ ]] || die "CUDA version '$VERSION' is not MAJOR.MINOR (e.g. 13.0)"
MAJOR="${BASH_REMATCH[1]}"; MINOR="${BASH_REMATCH[2]}"
pins_for "$VERSION"
[[ "$CAP" =~ ^[0-9]+[a-z]?$ ]] || die "compute capability '$CAP' is not like 90, 80 or 90a"

# --- prerequisites ------------------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || die "only Linux is supported (NVIDIA's PyPI wheels are manylinux)"
case "$(uname -m)" in x86_64|aarch64) ;; *) die "no CUDA wheels for $(uname -m)";; esac
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || die "$PY not found (set PYTHON=/path/to/python3)"
command -v cc >/dev/null || die "no C compiler 'cc' (needed for the stub libcuda.so, and by cargo anyway)"

DIR="${DIR:-${ENAS_CUDA_DIR:-$HOME/.cache/enas-cuda-$VERSION}}"
mkdir -p "$DIR" || die "cannot create $DIR"
DIR="$(cd "$DIR" && pwd)"
VENV="$DIR/venv"; ROOT="$DIR/cuda"

# --- 1. the virtual environment with the pinned wheels -------------------------------------------
REQS=("nvidia-cuda-nvcc==$VERSION.*" "nvidia-nvvm==$VERSION.*" "nvidia-cuda-crt==$VERSION.*"
      "nvidia-cuda-runtime==$VERSION.*" "nvidia-cuda-cccl==$VERSION.*" "nvidia-cuda-nvrtc==$VERSION.*"
      "nvidia-cublas==$CUBLAS_PIN" "nvidia-curand==$CURAND_PIN")
STAMP="$VENV/.enas-requirements"
[ "$FORCE" = 1 ] && { say "-f: removing $VENV"; rm -rf "$VENV"; }
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment $VENV"
  "$PY" -m venv "$VENV" || die "'$PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "${REQS[*]}" ]; then
  say "reusing $VENV (already has: ${REQS[*]})"
else
  say "installing from PyPI into $VENV (about 1 GB): ${REQS[*]}"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "${REQS[@]}" \
    || die "pip install failed (network to PyPI? disk space in $DIR?)"
  echo "${REQS[*]}" > "$STAMP"
fi

# The wheels unpack into site-packages/nvidia/cu<MAJOR>/{bin,include,lib,nvvm}.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
NV="$SITE/nvidia/cu$MAJOR"
[ -x "$NV/bin/nvcc" ] || die "no nvcc at $NV/bin/nvcc after the install (rerun with -f)"
NVCC_VERSION="$("$NV/bin/nvcc" --version)" || die "$NV/bin/nvcc does not run"
[[ "$NVCC_VERSION" == *"release $VERSION,"* ]] \
  || die "$NV/bin/nvcc is not CUDA $VERSION: $(grep release <<<"$NVCC_VERSION") (rerun with -f)"

# --- 2. a toolkit-shaped CUDA_ROOT ----------------------------------------------------------------
# nvcc finds cicc, libdevice, headers and libraries relative to the directory it is invoked from
# (its nvcc.profile: TOP=$(_HERE_)/..; nvvm/bin, include, include/cccl, lib64), and cudaforge (the
# build.rs of candle-kernels) takes include/ next to the nvcc it runs: so bin/, include/ and nvvm/
# are links to the wheels'. lib64/ is our own directory (rebuilt on every run): links to every
# versioned library, the unversioned names `-lcublas` etc. look for, and stubs/.
rm -rf "$ROOT"; mkdir -p "$ROOT/lib64/stubs"
for d in bin include nvvm; do ln -s "$NV/$d" "$ROOT/$d"; done
ln -s lib64 "$ROOT/lib"
shopt -s nullglob
for so in "$NV"/lib/lib*.so.*; do
  base="$(basename "$so")"
  ln -sfn "$so" "$ROOT/lib64/$base"                 # libcublas.so.13
  ln -sfn "$base" "$ROOT/lib64/${base%%.so.*}.so"   # libcublas.so -> libcublas.so.13
done
shopt -u nullglob
for lib in cudart cublas cublasLt curand nvrtc; do
  [ -e "$ROOT/lib64/lib$lib.so" ] || die "lib$lib.so missing from $NV/lib (a wheel failed to install? rerun with -f)"
done

# --- 3. the stub driver library -----------------------------------------------------------------
# cudarc is built by candle with `dynamic-linking` (not dlopen): it links -lcuda, so the binary has
# NEEDED libcuda.so.1 and, linked with -z now, needs every cu* symbol it uses resolved at start.
# The stub defines every function cuda.h declares (both default-stream flavours) as returning
# CUDA_ERROR_NO_DEVICE (100); cuGetErrorString/Name say what it is. It lives in lib64/stubs, like
# a real toolkit's, which env.sh puts on LD_LIBRARY_PATH only where no real driver is installed.
STUB_C="$ROOT/lib64/stubs/libcuda-stub.c"
{
  echo "/* Generated by scripts/cuda-toolchain.sh from $NV/include/cuda.h: not a driver. */"
  echo "static const char *msg = \"no CUDA driver: this is the build-time stub libcuda.so.1 (scripts/cuda-toolchain.sh)\";"
  echo "int cuGetErrorString(int e, const char **s) { (void)e; if (s) *s = msg; return 0; }"
  echo "int cuGetErrorName(int e, const char **s) { if (s) *s = e == 100 ? \"CUDA_ERROR_NO_DEVICE\" : \"CUDA_ERROR_STUB\"; return 0; }"
  for flags in "" "-DCUDA_API_PER_THREAD_DEFAULT_STREAM"; do
    cc -E -P $flags -x c "$NV/include/cuda.h"   # $flags unquoted: "" must vanish
  done | grep -oE '\bcu[A-Z][A-Za-z0-9_]*[[:space:]]*\(' | tr -d '( \t' | sort -u \
       | grep -vxE 'cuGetErrorString|cuGetErrorName' | sed 's/.*/int &(void) { return 100; }/'
} > "$STUB_C" || die "could not read the driver API from $NV/include/cuda.h"
NSYM=$(grep -c 'return 100' "$STUB_C")
[ "$NSYM" -gt 300 ] || die "only $NSYM driver functions found in cuda.h; refusing to build a partial stub"
cc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o "$ROOT/lib64/stubs/libcuda.so.1" "$STUB_C" \
  || die "compiling the stub libcuda.so failed"
ln -sfn libcuda.so.1 "$ROOT/lib64/stubs/libcuda.so"

# --- 4. env.sh ------------------------------------------------------------------------------------
CUDARC_VER="${MAJOR}0${MINOR}0"   # cudarc's spelling: 13.0 -> 13000, 13.1 -> 13010
cat > "$DIR/env.sh" <<EOF
# Generated by scripts/cuda-toolchain.sh (CUDA $VERSION). Use: source $DIR/env.sh
export CUDA_ROOT="$ROOT"
# CUDA_HOME/CUDA_PATH/CUDA_ROOT: cudarc's link search; NVCC: cudaforge (candle-kernels' build.rs);
# PATH: nvcc for anything else that asks; CUDARC_CUDA_VERSION: cudarc's bindings for CUDA $VERSION
# without running nvcc; CUDA_COMPUTE_CAP: the GPU to build for (no nvidia-smi on a build machine).
export CUDA_HOME="\$CUDA_ROOT" CUDA_PATH="\$CUDA_ROOT" NVCC="\$CUDA_ROOT/bin/nvcc"
export PATH="\$CUDA_ROOT/bin:\$PATH"
export CUDARC_CUDA_VERSION=$CUDARC_VER
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-$CAP}"
export LIBRARY_PATH="\$CUDA_ROOT/lib64:\$CUDA_ROOT/lib64/stubs\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
export LD_LIBRARY_PATH="\$CUDA_ROOT/lib64\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
# The binary needs libcuda.so.1 to start. Where no driver is installed, use the stub (CUDA then
# fails cleanly: CUDA_ERROR_NO_DEVICE); never where one is: it would hide the real driver.
# ENAS_CUDA_STUB=1 forces the stub, =0 never adds it; unset: the stub if ldconfig knows no libcuda.
case "\${ENAS_CUDA_STUB:-auto}" in
  1) _enas_stub=1 ;;
  auto) _enas_ld="\$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null)" || true
        case "\$_enas_ld" in ""|*"libcuda.so.1 "*) _enas_stub=0 ;; *) _enas_stub=1 ;; esac ;;
  *) _enas_stub=0 ;;
esac
if [ "\$_enas_stub" = 1 ]; then export LD_LIBRARY_PATH="\$CUDA_ROOT/lib64/stubs:\$LD_LIBRARY_PATH"; fi
unset _enas_ld _enas_stub
EOF

say "CUDA $VERSION ready in $DIR ($NSYM driver functions in the stub libcuda.so.1)"
cat <<EOF

To build:   source $DIR/env.sh && cargo build --release --features cuda
env.sh exports:
  CUDA_ROOT=$ROOT  (also CUDA_HOME, CUDA_PATH; NVCC=\$CUDA_ROOT/bin/nvcc)
  PATH=\$CUDA_ROOT/bin:\$PATH
  CUDARC_CUDA_VERSION=$CUDARC_VER  CUDA_COMPUTE_CAP=$CAP
  LIBRARY_PATH=\$CUDA_ROOT/lib64:\$CUDA_ROOT/lib64/stubs
  LD_LIBRARY_PATH=\$CUDA_ROOT/lib64  (+ \$CUDA_ROOT/lib64/stubs when no libcuda.so.1 is installed)
EOF
