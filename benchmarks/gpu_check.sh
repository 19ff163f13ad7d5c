#!/usr/bin/env bash
# The GPU check, in one call of under 5 minutes, from the repository root of a fresh machine
# with one NVIDIA GPU:
#
#     bash benchmarks/gpu_check.sh
#
# It prints the GPU, measures one epoch of the MLP and the CNN on CUDA in float32 and bf16, each
# with and without train.cuda_graphs (benchmarks/bench_epoch.py), trains configs/mlp_deep.yaml for
# 10 epochs end to end with graphs and without (wall time and accuracy), trains configs/speedrun.yaml
# (one epoch) for seeds 1-3 end to end, runs the tests marked cuda, and times training's start on
# the GPU (benchmarks/bench_startup.py) and the phases of the speedrun command
# (benchmarks/startup_phases.py). Every step has a
# time limit taken from a budget of 280 s; a step that fails or runs out of time is reported and
# the next one runs. The figures go to $OUT/gpu_results.txt when $OUT is set (else
# benchmarks/gpu_results.txt), each step's full output next to it in gpu_logs/.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
DEST=${OUT:-$ROOT/benchmarks}
RESULTS=$DEST/gpu_results.txt
LOGS=$DEST/gpu_logs
mkdir -p "$LOGS"
BUDGET=280
START=$SECONDS
: >"$RESULTS"

say() { echo "$*" | tee -a "$RESULTS"; }

# step NAME LIMIT_S COMMAND...: runs COMMAND with a time limit (cut to what is left of the budget),
# its output to the screen and to gpu_logs/NAME.log; records ok / FAILED / TIMED OUT and seconds.
step() {
    local name=$1 limit=$2 left rc tic
    shift 2
    left=$((BUDGET - (SECONDS - START)))
    ((left < limit)) && limit=$left
    if ((limit < 5)); then
        say "[$name] SKIPPED: the ${BUDGET} s budget is spent"
        return 1
    fi
    echo "----- $name (limit ${limit} s): $*"
    tic=$(date +%s.%N)
    timeout -k 5 "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
    rc=${PIPESTATUS[0]}
    local secs
    secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$tic" "$(date +%s.%N)")
    if ((rc == 0)); then
        say "[$name] ok in ${secs} s"
    elif ((rc == 124 || rc == 137)); then
        say "[$name] TIMED OUT after ${secs} s (limit ${limit} s); output in $LOGS/$name.log"
    else
        say "[$name] FAILED (exit $rc) after ${secs} s; output in $LOGS/$name.log"
    fi
    return "$rc"
}

say "mlcl-train GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
step nvidia-smi 15 nvidia-smi && say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"

# Python: .venv if there is one; else the machine's python3 as it is when it already has torch and
# the training dependencies (nothing installed: such machines may have no network); else a venv
# that sees the machine's own torch, with only the missing pure-Python dependencies installed;
# else a full install.
PY=$ROOT/.venv/bin/python
setup_python() {
    if python3 -c "import torch" 2>/dev/null; then
        echo "python3 already has torch $(python3 -c 'import torch; print(torch.__version__)'):" \
            "making .venv with --system-site-packages"
        python3 -m venv --system-site-packages .venv || return 1
        local missing
        missing=$(.venv/bin/python - <<'EOF'
import importlib.util
need = {"typer": "typer>=0.12", "yaml": "pyyaml>=6", "tqdm": "tqdm>=4.60", "matplotlib": "matplotlib>=3.7",
        "pptx": "python-pptx>=0.6.21", "pytest": "pytest>=7"}
print(" ".join(spec for mod, spec in need.items() if importlib.util.find_spec(mod) is None))
EOF
        )
        if [ -n "$missing" ]; then
            echo "installing what is missing: $missing"
            .venv/bin/pip install -q --retries 0 --timeout 15 $missing || return 1
        else
            echo "every dependency is already there; nothing installed"
        fi
    else
        echo "no torch on this machine: python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'"
        python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'
    fi
}
if [ -x "$PY" ] && "$PY" -c "import torch, typer, yaml, tqdm" 2>/dev/null; then
    say "python: existing .venv ($PY)"
elif python3 -c "import torch, typer, yaml, tqdm" 2>/dev/null; then
    PY=$(command -v python3)
    say "python: $PY has torch, typer, pyyaml and tqdm; using it with PYTHONPATH=$ROOT, nothing installed"
else
    step setup-python 90 bash -c "$(declare -f setup_python); setup_python"
    say "python: $(grep -v WARNING "$LOGS/setup-python.log" | tail -n 2 | tr "\n" " ")"
    if ! "$PY" -c "import torch, typer, yaml, tqdm" 2>/dev/null; then
        PY=$(command -v python3)
        say "python: .venv is not usable; going on with $PY"
    fi
fi
export PYTHONPATH=$ROOT  # this checkout's mlcl_train, installed or not
say "$("$PY" -c 'import torch; print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuda available: {torch.cuda.is_available()}")' 2>&1)"

# figures from a run folder's summary.json
run_figures() {
    "$PY" - "$1" <<'EOF'
import json, sys
from pathlib import Path
(run,) = [p for p in Path(sys.argv[1]).iterdir() if p.is_dir()]
s = json.loads((run / "summary.json").read_text())
print(f"status {s['status']}, device {s['device']}, {s['epochs_done']} epochs, final {s['final_acc']:.3f}%, "
      f"best {s['best_acc']:.3f}%, {s['seconds_per_epoch']:.3f} s per epoch, training {s['wall_seconds']:.2f} s")
EOF
}

# train NAME GRAPHS LIMIT: configs/mlp_deep.yaml for 10 epochs on cuda, train.cuda_graphs GRAPHS;
# end-to-end wall time and accuracy
train_mlp_deep() {
    local runs tic
    runs=$(mktemp -d)
    tic=$(date +%s.%N)
    step "$1" "$3" "$PY" -m mlcl_train --config configs/mlp_deep.yaml --set device=cuda \
        --set "train.cuda_graphs=$2" --runs-dir "$runs" --no-progress || return
    say "  mlp_deep.yaml cuda_graphs=$2, end to end (start-up included): $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f} s')" "$tic" "$(date +%s.%N)")"
    say "  $(run_figures "$runs" 2>&1)"
    rm -rf "$runs"
}

# the speedrun, seeds 1-3 on cuda: each whole command's wall time (start-up included) and accuracy
train_speedrun() {
    local runs tic seed
    for seed in 1 2 3; do
        runs=$(mktemp -d)
        tic=$(date +%s.%N)
        step "speedrun-seed$seed" 25 "$PY" -m mlcl_train --config configs/speedrun.yaml --set device=cuda \
            --set "seed=$seed" --runs-dir "$runs" --no-progress || return
        say "  speedrun.yaml seed $seed, end to end (start-up included): $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f} s')" "$tic" "$(date +%s.%N)")"
        say "  $(run_figures "$runs" 2>&1)"
        rm -rf "$runs"
    done
}

bench() {
    step "bench-$1" "$2" "$PY" benchmarks/bench_epoch.py --model "$1" --device cuda --amp bf16 --cuda-graphs \
        --skip-canonical --repeats 3 \
        && sed -n '/^model /,$p' "$LOGS/bench-$1.log" | sed 's/^/  /' >>"$RESULTS"
}

# the most wanted figures first, so that a short budget still gives them
bench mlp 75
train_mlp_deep train-mlp_deep-graphs true 45
train_speedrun
step pytest-cuda 100 "$PY" -m pytest tests/test_cuda.py -m cuda -q -p no:cacheprovider
grep -E '^(FAILED|ERROR|SKIPPED)' "$LOGS/pytest-cuda.log" | sed 's/^/  /' >>"$RESULTS"
say "  $(tail -n 1 "$LOGS/pytest-cuda.log")"
bench cnn 100
step startup-cuda 40 "$PY" benchmarks/bench_startup.py --repeats 1 --train-only --device cuda \
    && grep -E '^(python|train)' "$LOGS/startup-cuda.log" | sed 's/^/  /' >>"$RESULTS"
step phases-speedrun-cuda 25 "$PY" benchmarks/startup_phases.py configs/speedrun.yaml --device cuda \
    && sed 's/^/  /' "$LOGS/phases-speedrun-cuda.log" >>"$RESULTS"
train_mlp_deep train-mlp_deep-eager false 45

say "total ${SECONDS}s; figures in $RESULTS, logs in $LOGS"
