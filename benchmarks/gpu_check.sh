#!/usr/bin/env bash
# Every GPU figure the speed issue asks for, in one run on one GPU: prepared so that a session lent
# a GPU machine for minutes runs it once and reads the figures. Each step has its own time limit
# (together 9 min 20 s, under the machine's 10 minutes a command), so one that hangs costs only its share.
#
#   benchmarks/gpu_check.sh [OUT_DIR]           # on the GPU machine, from the repository root (or OUT=DIR)
#   DEVICE=cpu QUICK=1 benchmarks/gpu_check.sh  # a dry run of every step here, small, on the CPU
#   TESTS=0 ...                                 # without the tests step
#
# What it prints (each step's output also in OUT_DIR/<step>.txt, and each benchmark's results as
# OUT_DIR/<script>.json, the format of benchmarks/results/: copy one there, under a name that says
# the device, e.g. score_speed_h100.json, for the results page):
#   tests       the engine tests on CUDA (the `device` fixture's cuda cases)
#   count       SWAP count over a plain forward at batch 64 on score_speed.py's four networks (score_speed.json)
#   nb201_one   NB201 end to end in one process (build, count), archs/s and peak GPU memory (nb201_throughput.json)
#   nb201_many  NB201 end to end with N worker processes sharing the GPU (scaling.json)
#   darts       a small search first (worker start-up; the 1,000 reference sizes of --mu auto, once per cache),
#               timed apart, then a DARTS search of the paper's scale (population 50, 100 cycles: ~540
#               architectures) against the floor of plain forwards (search_speed.json)
#   hybrid      (HYBRID=1 only: a run of its own, about 10 minutes) own-model search with real evaluations:
#               resnet18 at 25 %, proxy-only, uniform width scaling and the hybrid (8 finalists trained),
#               10 epochs on 8,000 CIFAR-10 images, 3 seeds (model_search.json); needs SWAPFW_DATA
#   latency     (LATENCY=1 only: a run of its own, about 2 minutes) issue 30's latency repeatability on this
#               machine's CPU, quieter than a shared 2-vCPU VM: 30 NB201 networks timed twice by the torch and
#               onnxruntime meters, one timed 10 times (budget_search.py --parts latency)
#
# A machine with no network (the lent GPU machines): carry the packages its image lacks as wheels.
# Here, once: python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12
#   --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl
#   onnx2torch==1.5.15 onnxslim pebble torch-pruning      (.whl/ is git-ignored; about 0.5 MB)
#   and, for LATENCY=1, pymoo onnxruntime (about 20 MB more)
# and run this script with `.whl` carried: it installs them, and swapfw itself, when it finds .whl/.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-gpu_check}}
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
TESTS=${TESTS:-1}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}

if [ -d .whl ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/swapfw-site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/swapfw-site${PYTHONPATH:+:$PYTHONPATH}
    $PY -m pip install -q --no-deps --no-build-isolation --no-index -e . || exit 1
fi

step() {  # step NAME SECONDS COMMAND...: run it under a time limit, keep its output
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT_DIR/$name.txt" 2>&1
    local rc=$?
    tail -n "${TAIL:-15}" "$OUT_DIR/$name.txt"
    echo "== $name: exit $rc after $((SECONDS - start)) s"
}

$PY -c "import torch, swapfw; print('torch', torch.__version__, '| swapfw', swapfw.__version__, '|',
torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')" || exit 1
if [ "$DEVICE" != cpu ] && ! $PY -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "no CUDA device here: run with DEVICE=cpu for a dry run"; exit 1
fi

if [ "$QUICK" = 1 ]; then
    ARCHS=6; MANY=12; MODES=local,processes:2; POP=6; CYCLES=1; WORKERS=2; NETS=cellnet-c16-n5; FLOOR=2
else
    ARCHS=100; MANY=400; MODES=local,processes:4,processes:8,processes:16; POP=50; CYCLES=100; WORKERS=8; NETS=
    FLOOR=10
fi

if [ "$TESTS" != 0 ]; then
    if [ "$DEVICE" = cpu ]; then
        step tests 90 $PY -m pytest -q -x tests/test_engine.py -k "cpu" -p no:cacheprovider
    else
        step tests 90 $PY -m pytest -q -x tests/test_engine.py -k "cuda" -p no:cacheprovider
    fi
fi
step count 100 $PY benchmarks/score_speed.py --device "$DEVICE" --batch 64 ${NETS:+--networks $NETS} \
    --out "$OUT_DIR/score_speed.json"
step nb201_one 60 $PY benchmarks/nb201_throughput.py --device "$DEVICE" --archs "$ARCHS" \
    --out "$OUT_DIR/nb201_throughput.json"
step nb201_many 130 $PY benchmarks/scaling.py --device "$DEVICE" --archs "$MANY" --batch 16 --proxies swap \
    --modes "$MODES" --floor-archs 50 --out "$OUT_DIR/scaling.json"
# one fresh score cache for both searches: the first pays --mu auto's reference sizes, the second reads them
step darts 180 $PY benchmarks/search_speed.py --space darts --population "$POP" --cycles "$CYCLES" --device "$DEVICE" \
    --executor processes --workers "$WORKERS" --floor-archs "$FLOOR" --out "$OUT_DIR/search_speed.json"
if [ "${HYBRID:-0}" = 1 ]; then
    if [ "$QUICK" = 1 ]; then HARGS="--epochs 1 --train 500 --test 200 --val 200 --cycles 1 --population 4 --sample-size 2 --evaluations 2 --size-samples 5"
    else HARGS="--epochs 10 --train 8000 --test 1000 --val 1000 --seeds 3 --evaluations 8"; fi
    step hybrid 560 $PY benchmarks/model_search.py --models resnet18 --fractions 0.25 --device "$DEVICE" $HARGS \
        --out "$OUT_DIR/model_search.json"
fi
if [ "${LATENCY:-0}" = 1 ]; then
    step latency 200 $PY benchmarks/budget_search.py --parts latency --threads 1 --out "$OUT_DIR/budget_search.json"
fi
