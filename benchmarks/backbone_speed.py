"""Training and inference throughput of every registered torch backbone, full and tiny presets.

Run: .venv/bin/python benchmarks/backbone_speed.py [--seconds 3] [--batch-full 8] [--batch-tiny 32]
For each backbone and preset: samples/s of a training step (forward, linear head, backward, AdamW step) and
of inference (eval, no grad), on the input shape its contract declares. For ``ecgfounder`` also the ratio
against a plain reference-style forward (the functional re-implementation of the released Net1D in
tests/reference_net1d.py) on the same weights and batch, in the same run (goal: not slower). Where a CUDA
device is present, bf16 autocast figures too. Prints figures only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ecglab.backbones.conformance import input_shape
from ecglab.backbones.registry import create_backbone, get_backbone_info, list_backbones

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_net1d import reference_features  # test-only reference, for the ratio


def rate(step: Callable[[], None], batch: int, seconds: float, device: torch.device) -> float:
    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - start)


def measure(
    name: str, preset: str, batch: int, seconds: float, device: torch.device, autocast: bool
) -> tuple[float, float]:
    info = get_backbone_info(name)
    model = create_backbone(name, preset).to(device)
    head = nn.Linear(model.feature_dim, 108).to(device)
    x = torch.randn(batch, *input_shape(info, preset, batch)[1:], device=device)
    y = torch.randint(0, 2, (batch, 108), device=device).float()
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-4)
    context = torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast)

    def train_step() -> None:
        model.train()
        with context:
            loss = nn.functional.binary_cross_entropy_with_logits(head(model.forward_features(x)).float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def infer_step() -> None:
        model.eval()
        with torch.no_grad(), context:
            model.forward_features(x)

    return rate(train_step, batch, seconds, device), rate(infer_step, batch, seconds, device)


def ecgfounder_ratio(batch: int, seconds: float) -> tuple[float, float]:
    model = create_backbone("ecgfounder", "full").eval()
    state = model.state_dict()
    x = torch.randn(batch, 12, 5000)
    with torch.no_grad():
        ours = rate(lambda: model.forward_features(x), batch, seconds, torch.device("cpu"))
        reference = rate(lambda: reference_features(state, x), batch, seconds, torch.device("cpu"))
    return ours, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch-full", type=int, default=8)
    parser.add_argument("--batch-tiny", type=int, default=32)
    args = parser.parse_args()
    devices = [(torch.device("cpu"), False)]
    if torch.cuda.is_available():
        devices += [(torch.device("cuda"), False), (torch.device("cuda"), True)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for name in list_backbones():
        info = get_backbone_info(name)
        if info.kind != "torch":
            continue
        for preset in ("tiny", "full"):
            batch = args.batch_tiny if preset == "tiny" else args.batch_full
            for device, autocast in devices:
                label = f"{device.type}{' bf16' if autocast else ''}"
                try:
                    train, infer = measure(name, preset, batch, args.seconds, device, autocast)
                except ImportError as err:
                    print(f"{name:12s} {preset:5s} {label:9s} not available: {err}")
                    break
                print(
                    f"{name:12s} {preset:5s} {label:9s} batch {batch:3d}: train {train:8.1f} samples/s, "
                    f"inference {infer:8.1f} samples/s"
                )
    ours, reference = ecgfounder_ratio(args.batch_full, args.seconds)
    print(
        f"ecgfounder full inference on CPU: {ours:.1f} samples/s, reference-style forward {reference:.1f} "
        f"samples/s, ratio {ours / reference:.2f}x"
    )


if __name__ == "__main__":
    main()
