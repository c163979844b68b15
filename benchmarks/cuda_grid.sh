#!/usr/bin/env bash
# The CUDA figures of the README's Benchmarks section in one run (about 6-8 minutes on one
# current GPU): training throughput of the six networks at 256 and 192 px in bf16, the data path
# at both sizes, N trainings sharing the GPU, and the extrapolation to minutes per paper epoch
# and hours of the whole config/paper.yaml grid.
#
#   bash benchmarks/cuda_grid.sh            # writes benchmarks/out/cuda/*.json and summary.md
#
# The project is installed without its dependencies into OUT/site (no environment is changed):
# a GPU machine brings its own torch (any CUDA build; the pin of pyproject.toml is not installed). The benchmarks also need numpy,
# pandas, tqdm and pyyaml; give WHEELS=<folder of wheels> to install missing ones offline.
# Environment: OUT (output folder), DEVICE (cuda), SHARE_JOBS ("1 2 4 8"), SHARE_SECONDS (20),
# STEPS (timed steps per model, 10), PRECISIONS ("bf16"; add fp32 for the float32 column),
# SMALL=1 (tiny networks and data: checks the script itself, e.g. DEVICE=cpu SMALL=1).
# A failed step is reported and the others still run.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/out/cuda}
DEVICE=${DEVICE:-cuda}
SHARE_JOBS=${SHARE_JOBS:-1 2 4 8}
SHARE_SECONDS=${SHARE_SECONDS:-20}
STEPS=${STEPS:-10}
PRECISIONS=${PRECISIONS:-bf16}
PYTHON=${PYTHON:-python3}
NETWORK=()
DATA=(--slices 2000)
if [ "${SMALL:-0}" = 1 ]; then
    NETWORK=(--width 2 --batch 2)
    DATA=(--slices 60 --epochs 1)
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
failed=()

echo "== environment"
if [ -n "${WHEELS:-}" ]; then
    "$PYTHON" -m pip install -q --no-index --find-links "$WHEELS" numpy pandas tqdm pyyaml || true
fi
# Into a folder of its own, never into the interpreter's environment.
if "$PYTHON" -m pip install -q --no-deps --no-build-isolation --target "$OUT/site" . \
    > "$OUT/install.log" 2>&1; then
    export PYTHONPATH="$OUT/site${PYTHONPATH:+:$PYTHONPATH}"
else
    echo "(pip install --no-deps failed, see $OUT/install.log; using PYTHONPATH=src)"
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
DEVICE="$DEVICE" "$PYTHON" - <<'EOF'
import importlib.util, sys
missing = [m for m in ("torch", "numpy", "pandas", "tqdm", "yaml") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing Python modules: {missing} (give WHEELS=<folder> to install them offline)")
import os, torch
device = torch.device(os.environ.get("DEVICE", "cuda"))
if device.type == "cuda":
    if not torch.cuda.is_available():
        sys.exit("CUDA is not available to torch")
    free, total = torch.cuda.mem_get_info(device)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(device)}, capability "
          f"{torch.cuda.get_device_capability(device)}, {free / 2**30:.0f} of "
          f"{total / 2**30:.0f} GiB free")
from dmr.train.precision import resolve_precision
p = resolve_precision(device, "auto")
print(f"amp auto on {device}: {p.name} ({p.reason})")
EOF
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv || true

step() {  # step NAME TIMEOUT COMMAND...: run, keep its table, note a failure
    local name=$1 limit=$2
    shift 2
    echo "== $name"
    if ! timeout "$limit" "$@" > >(tee "$OUT/$name.md"); then
        failed+=("$name")
        echo "FAILED: $name"
    fi
}

# shellcheck disable=SC2086
step train_throughput 300 "$PYTHON" benchmarks/train_throughput.py --device "$DEVICE" \
    --sizes 256 192 --precision $PRECISIONS --steps "$STEPS" --warmup 3 "${NETWORK[@]}" \
    --out "$OUT/train_throughput.json"
step data_256 150 "$PYTHON" benchmarks/data_throughput.py --device "$DEVICE" --size 256 \
    --classes 4 --threads 4 --all-modes "${DATA[@]}" --out "$OUT/data_256.json"
step data_192 150 "$PYTHON" benchmarks/data_throughput.py --device "$DEVICE" --size 192 \
    --classes 2 --threads 4 --all-modes "${DATA[@]}" --out "$OUT/data_192.json"
# shellcheck disable=SC2086
step gpu_share 240 "$PYTHON" benchmarks/gpu_share.py --device "$DEVICE" --model unet-dmr \
    --size 256 --precision bf16 --jobs $SHARE_JOBS --seconds "$SHARE_SECONDS" "${NETWORK[@]}" \
    --out "$OUT/gpu_share.json"
share=()
[ -f "$OUT/gpu_share.json" ] && share=(--share "$OUT/gpu_share.json")
data=()
for f in "$OUT/data_256.json" "$OUT/data_192.json"; do [ -f "$f" ] && data+=("$f"); done
if [ -f "$OUT/train_throughput.json" ]; then
    step paper_grid 60 "$PYTHON" benchmarks/paper_grid.py --throughput "$OUT/train_throughput.json" \
        --precision bf16 "${share[@]}" --data "${data[@]}" --out "$OUT/paper_grid.json"
fi
cat "$OUT"/*.md > "$OUT/summary.md.tmp" && mv "$OUT/summary.md.tmp" "$OUT/summary.md"
echo "wrote $OUT/summary.md; failed steps: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
