#!/usr/bin/env bash
# Reliability torture, CI-sized (a few minutes on 2 cores): what a hostile user and a cluster
# scheduler do to enas, each case printed with its verdict.
#   - concurrent writers of one run directory;
#   - SIGTERM / SIGINT / SIGKILL at random points of search, train, bench and proxy, then the
#     resume (or rerun) compared with an uninterrupted run;
#   - absurd sizes (refused at once, nothing allocated, no directory made);
#   - an output path equal to an input (refused, the input unchanged).
#
#   scripts/torture.sh [--seed N]     (ENAS=path/to/enas to use another binary)
#
# The random stop points come from --seed (default: the time), printed, so a failure reruns
# exactly. Exits non-zero if any case fails. Needs only bash, coreutils and the enas binary.
set -uo pipefail
cd "$(dirname "$0")/.."
seed=$(date +%s)
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed="${2?$1 needs a value}"; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "--seed must be a whole number, got '$seed'" >&2; exit 2; }
RANDOM=$seed
enas="${ENAS:-target/release/enas}"
if [ ! -x "$enas" ]; then cargo build --release --quiet || exit 1; fi
enas="$(cd "$(dirname "$enas")" && pwd)/$(basename "$enas")"
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-2}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
cases=0
PUBLISHED="0 2 0 0 0 4 0 1 0 4 1 1 1 0 0 1 0 2 1 1 1 0 1 0 0 3 0 2 1 1 3 1 1 0 0 4 0 3 1 1"
echo "torture seed $seed (rerun with: scripts/torture.sh --seed $seed)"

verdict() { # NAME OK(0/1) DETAIL
  cases=$((cases + 1))
  if [ "$2" = 0 ]; then
    printf '%-58s ok    %s\n' "$1" "$3"
  else
    printf '%-58s FAIL  %s\n' "$1" "$3"
    failed=$((failed + 1))
  fi
}

# Waits until FILE exists (and, with PATTERN, holds it), at most 120 s; 1 on time-out.
wait_for() {
  local file=$1 pattern=${2:-} t=0
  while :; do
    if [ -f "$file" ] && { [ -z "$pattern" ] || grep -q "$pattern" "$file"; }; then return 0; fi
    sleep 0.05
    t=$((t + 1))
    [ $t -gt 2400 ] && return 1
  done
}

# A random delay of 0.00 to MAX-0.01 seconds.
delay() { printf '0.%02d' $((RANDOM % ${1:-100})); }

# Stops the command "$@" (run in the background) with SIGNAL once READY exists, after a random
# delay; prints the exit code. A command that ended before the signal prints "done".
stop_after() {
  local signal=$1 ready=$2 pattern=$3
  shift 3
  "$@" >/dev/null 2>"$work/stop.err" &
  local pid=$!
  if ! wait_for "$ready" "$pattern"; then kill -KILL $pid 2>/dev/null; echo "timeout"; return; fi
  sleep "$(delay)"
  if kill -0 $pid 2>/dev/null; then
    kill -"$signal" $pid 2>/dev/null
    wait $pid
    echo $?
  else
    wait $pid
    echo "done"
  fi
}

# A stop-and-resume case: runs "$@" with --out OUT, stops it with SIGNAL once READY holds
# PATTERN, continues it with CONTINUE (a function given OUT), and judges it by SAME (a function
# given OUT, true when OUT's results equal the uninterrupted run's), whose SAID is the verdict.
resume_case() {
  local name=$1 signal=$2 out=$3 ready=$4 pattern=$5 continue=$6 same=$7 said=$8
  shift 8
  local code
  code=$(stop_after "$signal" "$ready" "$pattern" "$@" --out "$out")
  if [ "$code" = "done" ]; then verdict "$name: SIG$signal" 1 "the run ended before the signal"; return; fi
  "$continue" "$out" >/dev/null 2>"$work/err" || true
  if "$same" "$out"; then
    verdict "$name: SIG$signal" 0 "exit $code, $said"
  else
    verdict "$name: SIG$signal" 1 "exit $code; $(head -c 300 "$work/err")"
  fi
}

# ---- search: stop at a random point, resume, compare with an uninterrupted run
search_args=(search --config configs/quick.yaml --set search.epochs=12)
"$enas" "${search_args[@]}" --out "$work/search-whole" >/dev/null 2>&1
search_resume() { "$enas" search --resume "$1"; }
search_same() {
  cmp -s "$work/search-whole/architectures.csv" "$1/architectures.csv" \
    && cmp -s "$work/search-whole/best_arch.txt" "$1/best_arch.txt"
}
for signal in TERM INT KILL; do
  run="$work/search-$signal"
  resume_case "search, resume" "$signal" "$run" "$run/state.json" '"epoch": 1' search_resume search_same \
    "architectures.csv and best_arch.txt identical" "$enas" "${search_args[@]}"
done

# ---- train
train_args=(train --config configs/quick.yaml --arc "$PUBLISHED" --epochs 5 --set train.channels=8)
"$enas" "${train_args[@]}" --out "$work/train-whole" >/dev/null 2>&1
train_resume() { "$enas" train --resume "$1"; }
train_same() {
  cmp -s <(cut -d, -f1-5 "$work/train-whole/metrics.csv") <(cut -d, -f1-5 "$1/metrics.csv") \
    && cmp -s "$work/train-whole/model.safetensors" "$1/model.safetensors"
}
for signal in TERM INT KILL; do
  run="$work/train-$signal"
  resume_case "train, resume" "$signal" "$run" "$run/metrics.csv" '^1,' train_resume train_same \
    "metrics.csv (seconds aside) and model identical" "$enas" "${train_args[@]}"
done

# ---- bench (a made-up table of every NB201 cell)
table="$work/table.csv"
ops=(none skip_connect nor_conv_1x1 nor_conv_3x3 avg_pool_3x3)
{
  echo "arch,valid_acc_12ep,test_acc_200ep"
  for ((i = 0; i < 15625; i++)); do
    v=(); x=$i
    for k in 0 1 2 3 4 5; do v[$k]=$((x % 5)); x=$((x / 5)); done
    acc=$((50 + 5 * v[0] + 3 * v[3] + i % 7))
    echo "|${ops[${v[0]}]}~0|+|${ops[${v[1]}]}~0|${ops[${v[2]}]}~1|+|${ops[${v[3]}]}~0|${ops[${v[4]}]}~1|${ops[${v[5]}]}~2|,$acc,$((acc + 10))"
  done
} >"$table"
bench_args=(bench --table "$table" --strategy random,reinforce --budget 60 --trials 600)
"$enas" "${bench_args[@]}" --out "$work/bench-whole" >/dev/null 2>&1
bench_resume() { "$enas" bench --resume "$1"; }
bench_same() {
  cmp -s "$work/bench-whole/trajectories.csv" "$1/trajectories.csv" && cmp -s "$work/bench-whole/plot.svg" "$1/plot.svg"
}
for signal in TERM KILL; do
  run="$work/bench-$signal"
  resume_case "bench, resume" "$signal" "$run" "$run/trials/random-00001.json" '' bench_resume bench_same \
    "trajectories.csv and plot.svg identical" "$enas" "${bench_args[@]}"
done

# ---- proxy: the same command again continues from OUT.partial
proxy_args=(proxy --proxy synflow,params --sample 400 --seed 3)
"$enas" "${proxy_args[@]}" --out "$work/proxy-whole.csv" >/dev/null 2>&1
proxy_rerun() { "$enas" "${proxy_args[@]}" --out "$1"; }
proxy_same() { cmp -s "$work/proxy-whole.csv" "$1"; }
for signal in TERM INT; do
  out="$work/proxy-$signal.csv"
  resume_case "proxy, rerun" "$signal" "$out" "$out.partial" '' proxy_rerun proxy_same \
    "the CSV identical" "$enas" "${proxy_args[@]}"
done

# ---- concurrent writers: a second search, a resume and a derive of a running search
run="$work/busy"
"$enas" search --config configs/quick.yaml --set search.epochs=30 --out "$run" >/dev/null 2>&1 &
pid=$!
if wait_for "$run/.lock"; then
  for second in "search --config configs/quick.yaml --out $run" "search --resume $run" "derive --run $run" "train --config configs/quick.yaml --arc \"$PUBLISHED\" --out $run" "bench --table $table --budget 5 --trials 1 --out $run"; do
    eval "\"$enas\" $second" >/dev/null 2>"$work/err"
    code=$?
    label="concurrent: $(echo "$second" | cut -d' ' -f1-2) into a running search"
    if [ $code = 2 ] && grep -q -e "pid $pid" "$work/err"; then
      verdict "$label" 0 "refused, naming the writer's pid"
    else
      verdict "$label" 1 "exit $code: $(grep -m1 error: "$work/err" | head -c 200)"
    fi
  done
else
  verdict "concurrent writers" 1 "the search never took its lock"
fi
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null

# ---- absurd sizes: refused at once, no run directory made
out="$work/absurd"
for args in "search --config configs/quick.yaml --set child.channels=100000 --out $out" \
  "search --config configs/quick.yaml --set controller.lstm_size=1000000 --out $out" \
  "train --config configs/quick.yaml --arc \"$PUBLISHED\" --set train.layers=100000 --out $out" \
  "bench --table $table --trials 18446744073709551615 --out $out" \
  "derive --run $work/search-whole --samples 1000000000" \
  "bench-step --image 100000"; do
  start=$(date +%s)
  eval "\"$enas\" $args" >/dev/null 2>"$work/err"
  code=$?
  secs=$(($(date +%s) - start))
  if [ $code = 2 ] && grep -q "would need about" "$work/err" && [ ! -e "$out" ] && [ $secs -lt 10 ]; then
    verdict "absurd: ${args:0:50}" 0 "refused in ${secs} s"
  else
    verdict "absurd: ${args:0:50}" 1 "exit $code: $(head -c 200 "$work/err")"
  fi
  rm -rf "$out"
done

# ---- output equal to an input
cp "$work/search-whole/architectures.csv" "$work/keep.csv"
"$enas" export --run "$work/search-whole" --out "$work/search-whole/./architectures.csv" --top 1 >/dev/null 2>"$work/err"
code=$?
if [ $code = 2 ] && cmp -s "$work/keep.csv" "$work/search-whole/architectures.csv"; then
  verdict "output = input: export --out the run's architectures.csv" 0 "refused, unchanged"
else
  verdict "output = input: export --out the run's architectures.csv" 1 "exit $code"
fi
printf '%s\n' "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|" >"$work/archs.txt"
cp "$work/archs.txt" "$work/archs.keep"
"$enas" proxy --proxy params --archs "$work/archs.txt" --out "$work/archs.txt" >/dev/null 2>"$work/err"
code=$?
if [ $code = 2 ] && cmp -s "$work/archs.txt" "$work/archs.keep"; then
  verdict "output = input: proxy --archs F --out F" 0 "refused, unchanged"
else
  verdict "output = input: proxy --archs F --out F" 1 "exit $code"
fi

echo "$cases cases, $failed failed (seed $seed)"
[ $failed = 0 ]
