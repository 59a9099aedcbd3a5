"""How fast per-target bootstrap AUROC intervals are (ecglab.bench.metrics.auroc_ci_matrix), against a loop of
sklearn.metrics.roc_auc_score calls on the same stored resamples; and DeLong intervals for all targets.

Run: .venv/bin/python benchmarks/auroc_speed.py [--rows 200000] [--targets 108] [--boot 1000]
     [--missing 0.3] [--rows-per-group 1] [--loop-targets 6] [--loop-boot 20] [--seed 0]
Builds a label matrix (rows x targets in {1, 0, -1}: --missing of the labels -1, prevalences from 1% to 50%)
and float32 model probabilities (sigmoids of a noisy signal, so some scores tie), stores --boot resamples
once (ecglab.bench.metrics.bootstrap_resamples; a cluster bootstrap over groups of about --rows-per-group rows
when that is above 1), then times
  - the vectorised auroc_ci_matrix for all targets and resamples;
  - the sklearn loop (per target and resample: the resample's row indices, its observed rows,
    roc_auc_score), on --loop-targets targets spread over the prevalences x the first --loop-boot
    resamples, extrapolated per call to all targets x resamples;
  - delong_matrix for all targets.
It checks that the vectorised per-resample AUROCs equal the loop's on the subsample (exits non-zero if they
differ by more than 1e-12). Prints figures only; nothing about speed is asserted.

Memory: "peak" is the kernel's resident-set high-water mark during the step (reset before it through
/proc/self/clear_refs) less the resident set before it. The machine may be shared: CPU seconds are printed
beside wall seconds (BLAS may use more than one thread for a few small products).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from ecglab.bench import metrics

TOLERANCE = 1e-12


# ---------------------------------------------------------------------------------------------- the data
def make_data(n_rows: int, n_targets: int, missing: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels (int8, -1 where not measured) and float32 probabilities whose AUROC spans about 0.5-0.85."""
    rng = np.random.default_rng(seed)
    prevalence = np.linspace(0.01, 0.5, n_targets)
    strength = rng.uniform(0.0, 1.5, n_targets)
    positive = rng.random((n_rows, n_targets)) < prevalence
    labels = positive.astype(np.int8)
    labels[rng.random((n_rows, n_targets)) < missing] = -1
    logits = rng.normal(size=(n_rows, n_targets)) + strength * positive - 2.0
    scores = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    return labels, scores


# ---------------------------------------------------------------------------------------------- timing
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_high_water() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Meter:
    """Wall and CPU seconds and the resident-set peak of each step; the process peak is the highest
    high-water mark seen (resetting the mark for a step resets getrusage's ru_maxrss too)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak_kib = 0

    def process_peak_mib(self) -> float:
        self.peak_kib = max(self.peak_kib, _status_kib("VmHWM") or 0)
        return self.peak_kib / 1024

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        gc.collect()
        self.process_peak_mib()
        before = _status_kib("VmRSS")
        resettable = _reset_high_water()
        start, start_cpu = time.perf_counter(), time.process_time()
        yield
        self.seconds[name] = time.perf_counter() - start
        self.cpu[name] = time.process_time() - start_cpu
        high = _status_kib("VmHWM")
        self.process_peak_mib()
        memory = ""
        if resettable and before is not None and high is not None:
            memory = f", peak +{(high - before) / 1024:,.0f} MiB RSS"
        print(f"  {name:<34} {self.seconds[name]:8.2f} s (cpu {self.cpu[name]:8.2f} s){memory}", flush=True)


# ---------------------------------------------------------------------------------------------- the loop
def sklearn_loop(labels: np.ndarray, scores: np.ndarray, indices: list[np.ndarray]) -> np.ndarray:
    """roc_auc_score per resample (row indices) of one target; NaN where a resample has a single class."""
    out = np.full(len(indices), np.nan)
    for b, rows in enumerate(indices):
        y = labels[rows]
        observed = y != -1
        y = y[observed]
        if 0 < y.sum() < y.size:
            out[b] = roc_auc_score(y, scores[rows][observed])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--targets", type=int, default=108)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--missing", type=float, default=0.3, help="share of labels that are -1")
    parser.add_argument("--rows-per-group", type=int, default=1, help="> 1: cluster bootstrap (patients)")
    parser.add_argument("--loop-targets", type=int, default=6, help="targets timed in the sklearn loop")
    parser.add_argument("--loop-boot", type=int, default=20, help="resamples timed in the sklearn loop")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    meter = Meter()

    labels, scores = make_data(args.rows, args.targets, args.missing, args.seed)
    observed = labels != -1
    print(
        f"data: {args.rows:,} rows x {args.targets} targets, {args.boot} resamples; "
        f"{1 - observed.mean():.1%} of labels -1, prevalence {labels[:, 0][observed[:, 0]].mean():.1%} to "
        f"{labels[:, -1][observed[:, -1]].mean():.1%}; {np.unique(scores).size:,} distinct scores"
    )

    print("vectorised (ecglab.bench.metrics):")
    groups = None
    if args.rows_per_group > 1:
        n_groups = max(1, args.rows // args.rows_per_group)
        groups = np.random.default_rng(args.seed + 1).integers(0, n_groups, args.rows)
    with meter("bootstrap_resamples" + (" (cluster)" if groups is not None else "")):
        counts = metrics.bootstrap_resamples(args.rows, args.boot, args.seed, groups)
    with meter("auroc_ci_matrix"):
        table = metrics.auroc_ci_matrix(labels, scores, counts)
    with meter("delong_matrix"):
        delong = metrics.delong_matrix(labels, scores)
    print(
        f"  {int(table['n_boot_skipped'].sum())} single-class resamples skipped; AUROC "
        f"{table['auroc'].min():.3f} to {table['auroc'].max():.3f}; mean CI width bootstrap "
        f"{(table['high'] - table['low']).mean():.4f}, DeLong {(delong['high'] - delong['low']).mean():.4f}"
    )

    loop_targets = np.unique(
        np.linspace(0, args.targets - 1, min(args.loop_targets, args.targets)).astype(int)
    )
    loop_boot = min(args.loop_boot, args.boot)
    indices = [np.repeat(np.arange(args.rows, dtype=np.int32), counts[b]) for b in range(loop_boot)]
    print(f"sklearn loop on targets {loop_targets.tolist()} x the first {loop_boot} resamples:")
    slow = {}
    with meter(f"roc_auc_score x {loop_targets.size * loop_boot}"):
        for t in loop_targets:
            slow[t] = sklearn_loop(labels[:, t], scores[:, t], indices)
    fast = {t: metrics.bootstrap_aurocs(labels[:, t], scores[:, t], counts[:loop_boot]) for t in loop_targets}
    worst = max(float(np.nanmax(np.abs(fast[t] - slow[t]), initial=0.0)) for t in loop_targets)
    same_nan = all(np.array_equal(np.isnan(fast[t]), np.isnan(slow[t])) for t in loop_targets)
    point = max(
        abs(table.loc[t, "auroc"] - roc_auc_score(labels[observed[:, t], t], scores[observed[:, t], t]))
        for t in loop_targets
    )
    ok = worst <= TOLERANCE and same_nan and point <= TOLERANCE
    print(
        f"  agreement: {'agree' if ok else 'DISAGREE'}: max |vectorised - sklearn| per resample {worst:.1e}, "
        f"point AUROC {point:.1e}, skipped resamples {'identical' if same_nan else 'DIFFER'}"
    )

    calls = args.targets * args.boot
    name = f"roc_auc_score x {loop_targets.size * loop_boot}"
    per_call = meter.seconds[name] / (loop_targets.size * loop_boot)
    per_call_cpu = meter.cpu[name] / (loop_targets.size * loop_boot)
    loop_s, loop_cpu = per_call * calls, per_call_cpu * calls
    fast_s, fast_cpu = meter.seconds["auroc_ci_matrix"], meter.cpu["auroc_ci_matrix"]
    print("extrapolated (loop: per-call time x targets x resamples):")
    print(
        f"  bootstrap {args.targets} targets x {args.boot} resamples: vectorised {fast_s:.1f} s, "
        f"sklearn loop {loop_s:,.0f} s ({per_call * 1e3:.1f} ms x {calls:,}): {loop_s / fast_s:.0f}x "
        f"(cpu: {fast_cpu:.1f} s vs {loop_cpu:,.0f} s, {loop_cpu / fast_cpu:.0f}x)"
    )
    print(f"  DeLong {args.targets} targets: {meter.seconds['delong_matrix']:.2f} s")
    print(f"process peak RSS: {meter.process_peak_mib():,.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
