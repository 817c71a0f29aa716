#!/usr/bin/env bash
# The GPU check (issue #15): what a CUDA machine does with this tree, in one command and under
# about 8 minutes, every figure written to one Markdown file.
#
#   scripts/gpu-check.sh TORCH [FILE]
#
# TORCH is where PyTorch 2.11 is installed on that machine: its python executable (asked where
# `torch` lives) or the `torch` package directory itself; the binary loads libtorch (and, through
# libtorch's own search path, the CUDA libraries) from its `lib/`. FILE defaults to
# gpu-check.md. The tree must hold the release binaries (REPRO, default target/release/repro,
# with `repro-torch` beside it, or REPRO_TORCH naming it; e.g. built on another machine and
# carried in, `objcopy --strip-debug` keeps them small) and the verified datasets in data/.
#
# Steps, each bounded in time (a step past its bound is cut and the file says so):
#   1. nvidia-smi and `repro doctor` (the card, driver, CUDA runtime, cuDNN, datasets);
#   2. a quick MNIST-1D audit on CUDA (`repro run --quick papers/mnist1d.yaml --device cuda`);
#   3. `--verify-determinism` on CUDA (each arm's first seed twice, step by step);
#   4. runs/hour with K = 1, 2, 4, 8 worker processes per GPU (`--jobs-per-gpu K`) on
#      benches/gpu/throughput.yaml (16 runs: the paper's CNN and a tuned 2-layer LSTM), each K
#      into a fresh store;
#   5. the same with Adam's fused step (`fused: true`, one `_fused_adam_` launch per step
#      instead of several per parameter) for K = 1 and 8 (KS_FUSED), against step 4's rows;
#   6. stacked seeds on the GPU: benches/gpu/stacked.yaml (8 seeds each of the CNN and an MLP,
#      `stack: 8`), one model per worker (its `stack` dropped) at K = 1 and 8, then stacked at
#      K = 1 and 2 (one worker per arm's group). Each stacked run's key names its group.
#
# Environment: REPRO (the binary), KS (default "1 2 4 8"), KS_FUSED (default "1 8"), DEVICE (default cuda; `cpu` runs the
# same steps on the CPU, a dry run of this script), QUICK_THROUGHPUT=1 (the throughput spec's
# `quick:` block, for a dry run), BUDGET_S (default 480: later steps are skipped once spent),
# STEPS (default "1 2 3 4 5 6": which of the steps above to run).
set -uo pipefail

if [ $# -lt 1 ]; then
    echo "usage: scripts/gpu-check.sh TORCH [FILE]   (TORCH: a python with torch 2.11, or torch's directory)" >&2
    exit 2
fi
TORCH_ARG=$1
FILE=${2:-gpu-check.md}
REPRO=${REPRO:-target/release/repro}
KS=${KS:-1 2 4 8}
DEVICE=${DEVICE:-cuda}
BUDGET_S=${BUDGET_S:-480}
SPEC=benches/gpu/throughput.yaml
KS_FUSED=${KS_FUSED:-1 8}
STACK_SPEC=benches/gpu/stacked.yaml
STEPS=${STEPS:-1 2 3 4 5 6}
want() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if [ -d "$TORCH_ARG" ]; then
    TORCH_DIR=$TORCH_ARG
else
    TORCH_DIR=$("$TORCH_ARG" -c 'import os, torch; print(os.path.dirname(torch.__file__))') || {
        echo "error: $TORCH_ARG cannot import torch" >&2
        exit 2
    }
fi
if [ ! -d "$TORCH_DIR/lib" ]; then
    echo "error: $TORCH_DIR has no lib/ (give torch's package directory or a python that imports it)" >&2
    exit 2
fi
if [ ! -x "$REPRO" ]; then
    echo "error: no binary at $REPRO (build with \`make build\`, or set REPRO)" >&2
    exit 2
fi
TORCH_BIN=${REPRO_TORCH:-$(dirname "$REPRO")/repro-torch}
if [ ! -x "$TORCH_BIN" ]; then
    echo "error: no repro-torch at $TORCH_BIN (it trains; \`repro\` hands training to it)" >&2
    exit 2
fi
export LD_LIBRARY_PATH="$TORCH_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export REPRO_PLAIN=1

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)
mkdir -p "$(dirname "$FILE")"
: > "$FILE"

say() { printf '%s\n' "$*" | tee -a "$FILE"; }
left() { echo $((BUDGET_S - ($(date +%s) - START))); }
# The bound of a step: at most $1 seconds, and no more than what is left of the budget.
bound() {
    local l
    l=$(left)
    echo $((l < $1 ? l : $1))
}
# Runs a command with at most $1 seconds, its output fenced into the file; returns its status.
fenced() {
    local limit=$1
    shift
    if [ "$limit" -lt 10 ]; then
        say "skipped (the check's ${BUDGET_S} s are spent): $*"
        return 124
    fi
    say '```'
    say "\$ $*"
    timeout "$limit" "$@" > "$WORK/out" 2>&1
    local rc=$?
    tee -a "$FILE" < "$WORK/out" > /dev/null
    tail -n 40 "$WORK/out"
    [ "$rc" = 124 ] && say "(cut after ${limit} s)"
    say "(exit $rc)"
    say '```'
    return "$rc"
}

say "# GPU check"
say ""
say "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "- tree: git $(git rev-parse --short HEAD 2>/dev/null || echo unknown) (the binary's own code sha256 is in \`repro doctor\` below)"
say "- host: $(hostname), $(nproc) CPU cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
say "- torch: $TORCH_DIR"
say "- binaries: $REPRO and $TORCH_BIN"
say "- device: $DEVICE"
if want 1; then
say ""
say "## 1. The card and \`repro doctor\`"
if command -v nvidia-smi > /dev/null; then
    fenced 30 nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
fi
fenced 60 "$REPRO" doctor
fi

if want 2; then
say ""
say "## 2. Quick MNIST-1D audit on $DEVICE"
fenced "$(bound 150)" "$REPRO" run --quick papers/mnist1d.yaml --device "$DEVICE" \
    --jobs-per-gpu 4 --store "$WORK/audit" --out "$(dirname "$FILE")/gpu-check-report"
fi

if want 3; then
say ""
say "## 3. --verify-determinism on $DEVICE"
fenced "$(bound 120)" "$REPRO" run --verify-determinism --quick papers/mnist1d.yaml \
    --device "$DEVICE" --store "$WORK/det"
fi

# Trains spec $1 once per K in $2 (each into a fresh store under $WORK/$3-K) and prints the
# runs/hour table.
throughput() {
    local spec=$1 ks=$2 tag=$3 k budget store t0 t1 rc runs per_run row
    local quick=() rows=() jobs=()
    [ "${QUICK_THROUGHPUT:-0}" = 1 ] && quick=(--quick)
    for k in $ks; do
        budget=$(left)
        if [ "$budget" -lt 20 ]; then
            say "K=$k skipped: the check's ${BUDGET_S} s are spent"
            continue
        fi
        store="$WORK/$tag-$k"
        if [ "$DEVICE" = cuda ]; then
            jobs=(--jobs-per-gpu "$k")
        else
            jobs=(--jobs "$k")
        fi
        t0=$(date +%s.%N)
        fenced "$budget" "$REPRO" run ${quick[@]+"${quick[@]}"} "$spec" --device "$DEVICE" "${jobs[@]}" --store "$store"
        rc=$?
        t1=$(date +%s.%N)
        runs=$(find "$store" -name record.json 2> /dev/null | wc -l)
        # Per run: wall seconds inside the worker (from its record), to set beside the pool's.
        per_run=$(find "$store" -name record.json -print0 2> /dev/null | xargs -0 -r cat |
            grep -o '"wall_time_s": *[0-9.]*' | awk -F: '{s += $2; n += 1} END {if (n) printf "%.1f", s / n; else print "-"}')
        row=$(awk -v k="$k" -v n="$runs" -v a="$t0" -v b="$t1" -v p="$per_run" -v rc="$rc" \
            'BEGIN {w = b - a; printf "| %d | %d | %.1f | %.0f | %s | %s |", k, n, w, (w > 0 ? n * 3600 / w : 0), p, rc}')
        rows+=("$row")
    done
    say ""
    say "| K (workers per GPU) | runs done | wall s | runs/hour | mean s per run (in worker) | exit |"
    say "|---|---|---|---|---|---|"
    for row in "${rows[@]}"; do say "$row"; done
}

if want 4; then
say ""
say "## 4. Runs/hour by worker processes per GPU ($SPEC)"
throughput "$SPEC" "$KS" k
fi

if want 5; then
say ""
say "## 5. Runs/hour with Adam's fused step ($SPEC, \`fused: true\`)"
# The same spec with `fused: true` under both of its optimizer lines (adam, adamw).
FUSED_SPEC="$WORK/throughput-fused.yaml"
sed -E 's/^( *)(optimizer: adamw?)$/\1\2\n\1fused: true/' "$SPEC" > "$FUSED_SPEC"
if [ "$(grep -c 'fused: true' "$FUSED_SPEC")" != 2 ]; then
    say "skipped: expected two optimizer lines in $SPEC"
else
    throughput "$FUSED_SPEC" "$KS_FUSED" fused
fi
fi
if want 6; then
say ""
say "## 6. Stacked seeds ($STACK_SPEC): one model per worker, then one stacked model per arm"
ALONE_SPEC="$WORK/stacked-alone.yaml"
sed 's/, stack: 8 }/ }/' "$STACK_SPEC" > "$ALONE_SPEC"
if grep -q '^seeds:.*stack' "$ALONE_SPEC" || ! grep -q '^seeds:.*stack: 8' "$STACK_SPEC"; then
    say "skipped: expected \`seeds: { ..., stack: 8 }\` in $STACK_SPEC"
else
    say ""
    say "One model per worker (\`stack\` dropped):"
    throughput "$ALONE_SPEC" "1 8" alone
    say ""
    say "Stacked (\`stack: 8\`: each arm's 8 seeds one model in one worker):"
    throughput "$STACK_SPEC" "1 2" stacked
fi
fi

say ""
say "Total wall time of the check: $(( $(date +%s) - START )) s"
