"""How fast, and in how much memory, task labels are built (ecglab.tasks.labels), against a per-ECG Python
loop.

Run: .venv/bin/python benchmarks/task_labels_speed.py [--segments 1000000] [--labs 10000000]
     [--subsample 2000] [--codes 20] [--tracemalloc]
Builds in memory a cohort-like segments table (patient_id str, start_time datetime64[us]; 50 segments per
patient within a few days), a labs table (blood draws of ~10 of ``--codes`` lab codes at one time, with some
duplicated rows, censored and missing values) and a target table shaped like ecglab.tasks.panels' (a low and a
high target per lab). Then times, with the peak memory of each step, the vectorised ``blood_tests`` and
``segments_in_windows`` (+/-60 min), ``closest_labels`` (+/-60 min) and ``forecast_labels`` (120 min), and a
straightforward loop (per ECG or blood test: that patient's rows of each lab, the closest one within the
window / every one in the horizon) on a random subsample, extrapolated per item. Exits non-zero when the two
disagree on the subsample. Prints figures only; nothing about speed is asserted.

Memory: "peak" is the kernel's resident-set high-water mark during the step (reset before it through
/proc/self/clear_refs) less the resident set before it, so it counts NumPy, Python and Arrow buffers alike;
``--tracemalloc`` adds the peak that tracemalloc sees (NumPy and Python objects, not Arrow); it makes Python
allocations several times slower, so the times of such a run are not comparable.
The machine may be shared: CPU seconds are printed beside wall seconds.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.tasks import labels as lab_labels
from ecglab.tasks.panels import TARGET_COLUMNS

US_PER_MIN = 60_000_000
SEGMENTS_PER_PATIENT = 50
CODES_PER_DRAW = 10
DAYS = 3


# ---------------------------------------------------------------------------------------------- the data
def make_tables(
    n_segments: int, n_labs: int, n_codes: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Segments, labs and targets. Times are whole minutes (labs) and 10 s steps (segments), so ECGs fall
    exactly on lab times and exactly between two of them now and then."""
    rng = np.random.default_rng(seed)
    n_patients = max(1, n_segments // SEGMENTS_PER_PATIENT)
    ids = np.asarray([f"P{i:07d}" for i in range(n_patients)], dtype=object)
    visits = np.asarray([f"{p}-V1" for p in ids], dtype=object)
    base = (
        np.datetime64("2150-01-01", "us").astype(np.int64)
        + rng.integers(0, 50 * 365, n_patients) * 86_400_000_000
    )
    span_s = DAYS * 86_400

    seg_patient = rng.integers(0, n_patients, n_segments)
    seg_time = base[seg_patient] + rng.integers(0, span_s // 10, n_segments) * 10_000_000
    segments = pd.DataFrame(
        {
            "segment_id": np.arange(n_segments, dtype=np.int64),
            "patient_id": ids[seg_patient],
            "start_time": seg_time.astype("datetime64[us]"),
        }
    )

    per_draw = min(CODES_PER_DRAW, n_codes)
    n_draws = -(-n_labs // per_draw)
    draw_patient = rng.integers(0, n_patients, n_draws)
    draw_time = base[draw_patient] + rng.integers(0, span_s // 60, n_draws) * US_PER_MIN
    draw_of_row = np.repeat(np.arange(n_draws), per_draw)[:n_labs]
    # ~10 distinct codes per draw; 1% of rows get a random code (some duplicate a lab within its draw)
    code = np.argsort(rng.random((n_draws, n_codes)), axis=1)[:, :per_draw].reshape(-1)[:n_labs]
    recode = rng.random(n_labs) < 0.01
    code[recode] = rng.integers(0, n_codes, int(recode.sum()))
    mean = 10.0 * (1 + np.arange(n_codes))
    value = np.round(rng.normal(mean[code], 0.25 * mean[code]), 1)
    value[rng.random(n_labs) < 0.001] = np.nan  # a missing result: never a label
    censored = np.full(n_labs, "", dtype=object)
    flag = rng.random(n_labs)
    censored[flag < 0.01] = "<"
    censored[(flag >= 0.01) & (flag < 0.02)] = ">"
    codes = np.asarray([f"LAB{c:02d}" for c in range(n_codes)], dtype=object)
    labs = pd.DataFrame(
        {
            "patient_id": ids[draw_patient[draw_of_row]],
            "visit_id": visits[draw_patient[draw_of_row]],
            "time": draw_time[draw_of_row].astype("datetime64[us]"),
            "lab": codes[code],
            "value": value,
            "censored": censored,
        }
    )
    rows = []
    for c, name in enumerate(codes):
        for direction, threshold in (("low", mean[c] * 0.75), ("high", mean[c] * 1.25)):
            rows.append(
                {
                    "target": f"{name}_{direction}",
                    "lab": name,
                    "lab_codes": (name,),
                    "direction": direction,
                    "threshold": float(threshold),
                    "unit": "",
                }
            )
    targets = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))
    return segments, labs, targets


# ---------------------------------------------------------------------------------------------- memory
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
    """Wall and CPU seconds and peak memory per step; the process peak is the highest high-water mark seen
    (getrusage's ru_maxrss cannot serve: resetting the high-water mark resets it too)."""

    def __init__(self, traced: bool) -> None:
        self.traced = traced
        self.results: dict[str, dict[str, float]] = {}
        self.peak_kib = 0

    def _note_peak(self) -> None:
        self.peak_kib = max(self.peak_kib, _status_kib("VmHWM") or 0)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        gc.collect()
        self._note_peak()
        before = _status_kib("VmRSS")
        resettable = _reset_high_water()
        if self.traced:
            tracemalloc.start()
        start, start_cpu = time.perf_counter(), time.process_time()
        yield
        row = {"seconds": time.perf_counter() - start, "cpu": time.process_time() - start_cpu}
        if self.traced:
            row["traced_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        high = _status_kib("VmHWM")
        self._note_peak()
        if resettable and before is not None and high is not None:
            row["peak_mib"] = (high - before) / 1024
        self.results[name] = row
        memory = f", peak +{row['peak_mib']:,.0f} MiB RSS" if "peak_mib" in row else ""
        memory += f", tracemalloc peak {row['traced_mib']:,.0f} MiB" if self.traced else ""
        print(f"  {name:<28} {row['seconds']:8.2f} s (cpu {row['cpu']:7.2f} s){memory}", flush=True)

    def process_peak_mib(self) -> float:
        self._note_peak()
        return self.peak_kib / 1024


# ---------------------------------------------------------------------------------------------- the loop
def _class_of(value: float, censored: str, direction: str, threshold: float) -> int:
    """One value's class for one target, written out case by case (not ecglab.tasks.labels.classify)."""
    if np.isnan(value):
        return -1
    if direction == "low":
        if censored == "<":
            return 1 if value < threshold else -1
        if censored == ">":
            return 0 if value >= threshold else -1
        return int(value < threshold)
    if censored == ">":
        return 1 if value > threshold else -1
    if censored == "<":
        return 0 if value <= threshold else -1
    return int(value > threshold)


class Loop:
    """Per-patient row index of the labs (built once, timed apart), then one Python iteration per ECG."""

    def __init__(self, labs: pd.DataFrame, targets: pd.DataFrame) -> None:
        self.rows_of = labs.groupby("patient_id", sort=False).indices
        names = sorted({code for codes in targets["lab_codes"] for code in codes})
        self.lab = pd.Categorical(labs["lab"], categories=names).codes
        self.time = lab_labels.to_us(labs["time"])
        self.value = labs["value"].to_numpy(np.float64)
        self.censored = labs["censored"].to_numpy(dtype=object)
        self.groups = []  # per lab: its code numbers and its targets (column, direction, threshold)
        for lab_codes, members in targets.groupby("lab_codes", sort=False).groups.items():
            numbers = np.asarray([names.index(c) for c in lab_codes])
            members_ = [
                (targets.index.get_loc(j), targets.at[j, "direction"], float(targets.at[j, "threshold"]))
                for j in members
            ]
            self.groups.append((numbers, members_))
        self.n_targets = len(targets)

    def _mine(self, patient: str, numbers: np.ndarray) -> np.ndarray:
        rows = self.rows_of.get(patient)
        if rows is None:
            return rows
        lab = self.lab[rows]
        return rows[lab == numbers[0]] if len(numbers) == 1 else rows[np.isin(lab, numbers)]

    def closest(self, patient: str, t: int, width: int) -> np.ndarray:
        out = np.full(self.n_targets, -1, dtype=np.int8)
        for numbers, members in self.groups:
            mine = self._mine(patient, numbers)
            if mine is None or not len(mine):
                continue
            gap = np.abs(self.time[mine] - t)
            best = gap.min()
            if best > width:
                continue
            chosen = mine[gap == best]
            for column, direction, threshold in members:
                classes = {_class_of(self.value[r], self.censored[r], direction, threshold) for r in chosen}
                out[column] = classes.pop() if len(classes) == 1 else -1
        return out

    def forecast(self, patient: str, t: int, width: int) -> np.ndarray:
        out = np.full(self.n_targets, -1, dtype=np.int8)
        for numbers, members in self.groups:
            mine = self._mine(patient, numbers)
            if mine is None or not len(mine):
                continue
            dt = self.time[mine] - t
            inside = mine[(dt >= 0) & (dt <= width)]
            if not len(inside):
                continue
            positive = {}
            for column, direction, threshold in members:
                classes = {_class_of(self.value[r], self.censored[r], direction, threshold) for r in inside}
                out[column] = 1 if 1 in classes else (-1 if -1 in classes else 0)
                positive[direction] = 1 in classes
            if positive.get("low") and positive.get("high"):
                for column, _, _ in members:
                    out[column] = -1
        return out


class WindowLoop:
    """Per-patient index of the segments (built once, timed apart), then one iteration per blood test."""

    def __init__(self, segments: pd.DataFrame) -> None:
        self.rows_of = segments.groupby("patient_id", sort=False).indices
        self.time = lab_labels.to_us(segments["start_time"])
        self.segment_id = segments["segment_id"].to_numpy()

    def pairs(self, tests: pd.DataFrame, width: int) -> pd.DataFrame:
        """(anchor_id, segment_id, dt_s): each test's patient's segments within +/- width."""
        out = []
        times = lab_labels.to_us(tests["time"])
        for anchor, patient, t in zip(tests["anchor_id"], tests["patient_id"], times, strict=True):
            rows = self.rows_of.get(patient, np.empty(0, dtype=np.int64))
            dt = self.time[rows] - t
            inside = np.abs(dt) <= width
            out.extend(
                (anchor, s, d / 1e6) for s, d in zip(self.segment_id[rows[inside]], dt[inside], strict=True)
            )
        return pd.DataFrame(out, columns=["anchor_id", "segment_id", "dt_s"])


# ---------------------------------------------------------------------------------------------- main
def _per_ecg(fn: Callable[[str, int, int], np.ndarray], ecgs: pd.DataFrame, width: int) -> np.ndarray:
    times = lab_labels.to_us(ecgs["start_time"])
    return np.stack([fn(p, int(t), width) for p, t in zip(ecgs["patient_id"], times, strict=True)])


def _compare(name: str, fast: np.ndarray, slow: np.ndarray) -> bool:
    same = bool(np.array_equal(fast, slow))
    labelled = float((slow != -1).mean()) if slow.size else 0.0
    print(
        f"  {name}: {'agree' if same else 'DISAGREE'} on {slow.shape[0]:,} ECGs x {slow.shape[1]} targets "
        f"({int((fast != slow).sum())} cells differ; {labelled:.1%} of cells labelled)"
    )
    return same


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1_000_000)
    parser.add_argument("--labs", type=int, default=10_000_000)
    parser.add_argument("--codes", type=int, default=20, help="lab codes (2 targets each)")
    parser.add_argument("--subsample", type=int, default=2000, help="ECGs (and blood tests) for the loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tracemalloc", action="store_true", help="also report tracemalloc peaks")
    return parser.parse_args()


def _vectorised(
    meter: Meter, segments: pd.DataFrame, labs: pd.DataFrame, targets: pd.DataFrame, window: int, horizon: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Blood tests, their (test, segment) pairs, closest and forecast labels, each step timed."""
    print("vectorised (ecglab.tasks.labels):")
    with meter("blood_tests"):
        tests, _ = lab_labels.blood_tests(labs)
    with meter(f"segments_in_windows +/-{window}"):
        windows = lab_labels.segments_in_windows(segments, tests, window)
    with meter(f"closest_labels +/-{window}"):
        closest = lab_labels.closest_labels(labs, segments, targets, window)
    with meter(f"forecast_labels {horizon}"):
        forecast = lab_labels.forecast_labels(labs, segments, targets, horizon)
    print(f"  {len(tests):,} blood tests, {len(windows):,} (test, segment) pairs")
    return tests, windows, closest, forecast


def _loops(
    meter: Meter,
    tables: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    ecgs: pd.DataFrame,
    some_tests: pd.DataFrame,
    window: int,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The loop's closest and forecast labels of ``ecgs`` and pairs of ``some_tests``, each step timed."""
    segments, labs, targets = tables
    print(f"loop on {len(ecgs):,} ECGs / {len(some_tests):,} blood tests:")
    with meter("index labs by patient"):
        loop = Loop(labs, targets)
    with meter(f"closest loop +/-{window}"):
        slow_closest = _per_ecg(loop.closest, ecgs, window * US_PER_MIN)
    with meter(f"forecast loop {horizon}"):
        slow_forecast = _per_ecg(loop.forecast, ecgs, horizon * US_PER_MIN)
    with meter("index segments by patient"):
        window_loop = WindowLoop(segments)
    with meter(f"windows loop +/-{window}"):
        slow_windows = window_loop.pairs(some_tests, window * US_PER_MIN)
    return slow_closest, slow_forecast, slow_windows


def _windows_agree(windows: pd.DataFrame, slow_windows: pd.DataFrame, some_tests: pd.DataFrame) -> bool:
    key = ["anchor_id", "segment_id"]
    fast_windows = windows[windows["anchor_id"].isin(some_tests["anchor_id"])].sort_values(key)
    slow_windows = slow_windows.sort_values(key)
    same = fast_windows.reset_index(drop=True).equals(
        slow_windows.reset_index(drop=True).astype(fast_windows.dtypes)
    )
    print(
        f"  segments_in_windows: {'agree' if same else 'DISAGREE'} on {len(some_tests):,} blood tests "
        f"({len(fast_windows):,} vs {len(slow_windows):,} pairs)"
    )
    return same


def _extrapolate(
    meter: Meter, tests: tuple[int, int], ecgs: tuple[int, int], window: int, horizon: int
) -> None:
    """Print each loop's time for all items (its index + per-item time x items) beside the vectorised one;
    ``tests`` and ``ecgs`` are (all, done by the loop)."""
    print("extrapolated (loop: its index + per-item time x all items):")
    for name, loop_name, index, n_items, n_done in (
        (
            f"segments_in_windows +/-{window}",
            f"windows loop +/-{window}",
            "index segments by patient",
            *tests,
        ),
        (f"closest_labels +/-{window}", f"closest loop +/-{window}", "index labs by patient", *ecgs),
        (f"forecast_labels {horizon}", f"forecast loop {horizon}", "index labs by patient", *ecgs),
    ):
        fast, slow = meter.results[name], {}
        for clock in ("seconds", "cpu"):
            per_item = meter.results[loop_name][clock] / max(n_done, 1)
            slow[clock] = meter.results[index][clock] + per_item * n_items
        per_item_us = meter.results[loop_name]["seconds"] / max(n_done, 1) * 1e6
        print(
            f"  {name:<28} vectorised {fast['seconds']:7.1f} s, loop {slow['seconds']:7.1f} s "
            f"({per_item_us:,.0f} us x {n_items:,}): {slow['seconds'] / fast['seconds']:5.1f}x "
            f"(cpu: {fast['cpu']:.1f} s vs {slow['cpu']:.1f} s, {slow['cpu'] / fast['cpu']:.1f}x)"
        )
    print(
        "  (segments_in_windows: both start from the blood tests, whose vectorised building is timed above)"
    )


def main() -> int:
    args = _parse_args()
    window, horizon = 60, 120
    meter = Meter(args.tracemalloc)

    start = time.perf_counter()
    segments, labs, targets = make_tables(args.segments, args.labs, args.codes, args.seed)
    print(
        f"tables: {len(segments):,} segments of {segments['patient_id'].nunique():,} patients, "
        f"{len(labs):,} lab rows, {len(targets)} targets, in {time.perf_counter() - start:.1f} s; "
        f"RSS {(_status_kib('VmRSS') or 0) / 1024:,.0f} MiB"
    )
    tests, windows, closest, forecast = _vectorised(meter, segments, labs, targets, window, horizon)

    rng = np.random.default_rng(args.seed + 1)
    ecg_rows = np.sort(rng.choice(len(segments), min(args.subsample, len(segments)), replace=False))
    test_rows = np.sort(rng.choice(len(tests), min(args.subsample, len(tests)), replace=False))
    ecgs, some_tests = segments.iloc[ecg_rows], tests.iloc[test_rows]
    slow_closest, slow_forecast, slow_windows = _loops(
        meter, (segments, labs, targets), ecgs, some_tests, window, horizon
    )

    print("agreement on the subsample:")
    ok = _compare("closest_labels", closest[ecg_rows], slow_closest)
    ok &= _compare("forecast_labels", forecast[ecg_rows], slow_forecast)
    ok &= _windows_agree(windows, slow_windows, some_tests)

    _extrapolate(meter, (len(tests), len(some_tests)), (len(segments), len(ecgs)), window, horizon)
    print(f"process peak RSS: {meter.process_peak_mib():,.0f} MiB")
    if not ok:
        print("FAIL: the vectorised labels and the loop disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
