#!/usr/bin/env bash
# The prepared GPU check (issue 11): ECGFounder full, bf16 training samples/s, achieved TFLOP/s against the
# GPU's bf16 dense peak, torch.compile on/off, and the share of a real training loop waiting for the loader.
# Runs in under 8 minutes on one CUDA GPU with the machine's own torch (never the CPU pin), from the
# repository root: `bash benchmarks/gpu_check.sh [extra gpu_check.py flags]`. Needs torch, numpy, pandas,
# pyarrow, scipy and PyYAML; not mlflow, optuna or wfdb.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 470 python3 benchmarks/gpu_check.py --batch 128 --seconds 20 --workers 8 "$@"
