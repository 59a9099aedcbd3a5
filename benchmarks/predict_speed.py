"""How fast ``ecglab predict`` scores a 10-s record on the CPU, for the tiny presets of ecgfounder, s4 and
transformer (issue 14's goal: under 1 s per 10-s record on a laptop CPU).

Run: .venv/bin/python benchmarks/predict_speed.py [--repeats 20] [--threads 1] [--task anyecg_lab_est_15min]
     [--targets 40] [--backbones ecgfounder s4 transformer]
Writes 10 s of PTB s0010_re's 12 leads (1000 Hz, from ../shared/data; a synthetic ECG-like signal when that
is absent) as a WFDB record in a temporary folder, builds each backbone's model as ``ecglab predict``
rebuilds a run's (ecglab.bench.engine.predict_records.rebuilt_model: the tiny preset, --targets outputs;
fresh weights, since speed does not depend on them) and times per record, median over --repeats:
  - ``score_record``: read the header and samples, pick the task's leads, cut windows, resample to the
    task's rate with the anti-aliasing filter, z-score, the forward pass, pooling and flags;
  - the reference: the model's forward pass alone on the same prepared windows.
The difference is the preprocessing's share. Building the model (once per ``ecglab predict`` call) is
printed apart; loading a run's checkpoint and starting Python are not timed. The machine may be shared: CPU
seconds are printed beside wall seconds. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ecglab.backbones.registry import get_backbone_info
from ecglab.bench.config import RunConfig
from ecglab.bench.engine.predict_records import (
    Predictor,
    rebuilt_model,
    record_windows,
    score_record,
    window_outputs,
)
from ecglab.tasks.registry import get_task

SHARED_RECORD = Path(__file__).resolve().parents[2] / "shared" / "data" / "wfdb-samples" / "s0010_re"
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def ten_seconds(folder: Path) -> Path:
    """A 10-s, 12-lead, 1000-Hz WFDB record (PTB s0010_re when present); its path without .hea."""
    import wfdb

    fs = 1000
    if SHARED_RECORD.with_suffix(".hea").is_file():
        record = wfdb.rdrecord(str(SHARED_RECORD), sampto=10 * fs)
        names = [n.lower() for n in record.sig_name]
        signal = record.p_signal[:, [names.index(lead.lower()) for lead in LEADS]]
    else:
        t = np.arange(10 * fs) / fs
        signal = np.stack([np.sin(2 * np.pi * 1.2 * t + k) ** 15 for k in range(len(LEADS))], axis=1)
    wfdb.wrsamp(
        "ten_s",
        fs=fs,
        units=["mV"] * len(LEADS),
        sig_name=list(LEADS),
        p_signal=signal,
        fmt=["16"] * len(LEADS),
        adc_gain=[1000.0] * len(LEADS),
        baseline=[0] * len(LEADS),
        write_dir=str(folder),
    )
    return folder / "ten_s"


def timed(step: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``step`` over ``repeats`` calls, after one warm-up call."""
    step()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def predictor_for(backbone: str, task: str, n_targets: int) -> tuple[Predictor, float]:
    """A predictor as ``load_predictor`` builds one (fresh weights) and the seconds building it took."""
    spec = get_task(task)
    config = RunConfig(backbone=backbone, task=task, cohort="unused", preset="tiny")
    start = time.perf_counter()
    model = rebuilt_model(config, spec, n_targets).eval()
    built = time.perf_counter() - start
    targets = tuple(f"target_{j}" for j in range(n_targets))
    normalisation = get_backbone_info(backbone).input.normalisation
    return Predictor(Path("."), config, spec, model, targets, np.full(n_targets, 0.5), normalisation), built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a laptop's share)")
    parser.add_argument("--task", default="anyecg_lab_est_15min")
    parser.add_argument("--targets", type=int, default=40)
    parser.add_argument("--backbones", nargs="+", default=["ecgfounder", "s4", "transformer"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = get_task(args.task)
    print(
        f"task {args.task}: leads {','.join(spec.input.leads)}, {spec.input.fs:g} Hz, "
        f"{spec.input.seconds:g}-s windows; record: 10 s, 12 leads, 1000 Hz; {args.targets} targets; "
        f"torch threads {args.threads}; median of {args.repeats}"
    )
    with tempfile.TemporaryDirectory() as folder:
        record = ten_seconds(Path(folder))
        for backbone in args.backbones:
            predictor, built = predictor_for(backbone, args.task, args.targets)
            _, windows = record_windows(record, predictor)
            whole = timed(lambda p=predictor: score_record(p, record), args.repeats)
            forward = timed(lambda p=predictor, w=windows: window_outputs(p, w), args.repeats)
            print(
                f"{backbone:>12} tiny: predict {whole[0]:.3f} s/record (cpu {whole[1]:.3f}); forward alone "
                f"{forward[0]:.3f} s (cpu {forward[1]:.3f}); {len(windows)} window(s); model built in "
                f"{built:.2f} s"
            )


if __name__ == "__main__":
    main()
