"""The prepared GPU check: ECGFounder (full, 12 leads, 10 s at 500 Hz) training throughput with bf16 autocast,
the TFLOP/s it achieves against the GPU's bf16 dense peak, the share of a real training loop spent waiting for
the loader, and torch.compile on and off. Prints figures only; ``benchmarks/gpu_check.sh`` runs it.

Run (a CUDA machine, from the repository root): ``bash benchmarks/gpu_check.sh`` (under 8 minutes), or on a
CPU for a smoke run: ``python benchmarks/gpu_check.py --device cpu --preset tiny --batch 8 --seconds 1``.
FLOPs are counted by ``torch.utils.flop_counter`` on one training step (forward and backward); the peak comes
from ``--peak-tflops`` or a table of dense bf16 peaks (no sparsity) by device name.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ecglab.backbones.registry import create_backbone

LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
BF16_DENSE_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
}
TASK_YAML = """defaults:
  version: "1"
  panel: {kind: anyecg_lab, min_positives: 1, min_negatives: 1, min_positive_patients: 1,
    min_negative_patients: 1}
  split: {kind: patient, fractions: [0.6, 0.2, 0.2], seed: 0}
  input: {leads: [I, II, III, aVR, aVL, aVF, V1, V2, V3, V4, V5, V6], fs: 500, seconds: 10}
  eval: {max_segments: null, crops: 1, pooling: mean, seed: 0}
tasks:
  - name: gpu_check_est_15min
    kind: closest_estimation
    window_min: 15
    description: every 12-lead segment of the synthetic cohort an anchor (GPU check)
"""


def timed(step: Callable[[], None], seconds: float, device: torch.device) -> tuple[int, float]:
    """Steps run in about ``seconds`` after one warm-up step, and the time they took."""
    step()
    sync(device)
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    sync(device)
    return n, time.perf_counter() - start


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def training_step(model: nn.Module, batch: int, device: torch.device) -> Callable[[], None]:
    head = nn.Linear(model.feature_dim, 108).to(device)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-4)
    x = torch.randn(batch, len(LEADS), 5000, device=device)
    y = torch.randint(0, 2, (batch, 108), device=device).float()

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = head(model.forward_features(x)).float()
        loss = nn.functional.binary_cross_entropy_with_logits(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def flops_per_step(step: Callable[[], None]) -> float:
    with FlopCounterMode(display=False) as counter:
        step()
    return float(counter.get_total_flops())


def throughput(args: argparse.Namespace, device: torch.device, compiled: bool) -> dict[str, float]:
    torch.manual_seed(0)
    model = create_backbone("ecgfounder", args.preset, in_channels=len(LEADS)).to(device).train()
    forward = torch.compile(model) if compiled else model
    step = training_step(forward, args.batch, device)
    flops = flops_per_step(training_step(model, args.batch, device)) if not compiled else float("nan")
    n, elapsed = timed(step, args.seconds, device)
    return {"samples_s": n * args.batch / elapsed, "flops_per_step": flops, "step_s": elapsed / n}


def synthetic_batches(args: argparse.Namespace, root: Path):  # -> (TrainBatches, DataLoader)
    """A real training loader (memory-mapped store, random segment and crop per anchor) over a small
    12-lead synthetic cohort."""
    from ecglab.bench.data import TrainBatches, input_plan, loader
    from ecglab.cohort.store import open_cohort
    from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
    from ecglab.tasks.build import build_task
    from ecglab.tasks.registry import get_task, register_spec_file

    store = build_synthetic_cohort(root / "cohort", SynthConfig(n_patients=args.patients, leads=LEADS))
    (root / "tasks.yaml").write_text(TASK_YAML, encoding="utf-8")
    register_spec_file(root / "tasks.yaml")
    cohort = open_cohort(store)
    task = build_task(get_task("gpu_check_est_15min"), cohort, cache_dir=root / "task_cache")
    rows = (task.anchors["split"] == "train").to_numpy().nonzero()[0]
    plan = input_plan(task, float(cohort.segments["fs"].iloc[0]), "zscore")
    batches = TrainBatches(store, plan, task, rows, args.batch, 0, None, 0, 1)
    return batches, loader(batches, args.workers)


def loader_wait(args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Share of wall time a training loop spends waiting for its next batch from the real loader."""
    model = create_backbone("ecgfounder", args.preset, in_channels=len(LEADS)).to(device).train()
    head = nn.Linear(model.feature_dim, 108).to(device)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-4)
    with tempfile.TemporaryDirectory() as tmp:
        _, batches = synthetic_batches(args, Path(tmp))
        waited = computed = 0.0
        steps = 0
        deadline = time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            tick = time.perf_counter()
            for batch in batches:
                x = batch["x"].to(device, non_blocking=True)
                got = time.perf_counter()
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    logits = head(model.forward_features(x)).float()
                loss = logits.square().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                sync(device)
                done = time.perf_counter()
                waited, computed, steps = waited + got - tick, computed + done - got, steps + 1
                tick = done
                if done > deadline:
                    break
    return {"wait_share": waited / (waited + computed), "steps": float(steps)}


def peak_tflops(args: argparse.Namespace, device: torch.device) -> float | None:
    if args.peak_tflops:
        return args.peak_tflops
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in BF16_DENSE_PEAK_TFLOPS.items() if key in name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--patients", type=int, default=60, help="synthetic cohort for the loader check")
    parser.add_argument("--workers", type=int, default=8, help="loader worker processes")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak (else looked up)")
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    label = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {label}; torch {torch.__version__}; ecgfounder/{args.preset}, batch {args.batch}, bf16")
    eager = throughput(args, device, compiled=False)
    achieved = eager["flops_per_step"] / eager["step_s"] / 1e12
    peak = peak_tflops(args, device)
    print(
        f"eager: {eager['samples_s']:.1f} samples/s; {eager['flops_per_step'] / args.batch / 1e9:.2f} GFLOP"
    )
    print(f"  per sample (forward+backward); {achieved:.1f} TFLOP/s achieved", end="")
    print(f" = {100 * achieved / peak:.1f}% of the {peak:.0f} TFLOP/s bf16 dense peak" if peak else "")
    if not args.no_compile:
        compiled = throughput(args, device, compiled=True)
        ratio = compiled["samples_s"] / eager["samples_s"]
        print(f"torch.compile: {compiled['samples_s']:.1f} samples/s = {ratio:.2f}x eager")
    wait = loader_wait(args, device)
    print(
        f"real loader ({args.workers} workers): {100 * wait['wait_share']:.1f}% of the loop waiting for data"
    )
    print(f"  over {wait['steps']:.0f} steps")


if __name__ == "__main__":
    main()
