"""How fast the two biggest source tables are read into a cohort store table, and the peak memory of it:
MIMIC-IV ``hosp/labevents.csv.gz`` (118M rows in MIMIC-IV v2.2) -> labs, MC-MED ``numerics.csv`` (~1e8 rows)
-> vitals. Goals: each in < 15 min and < 8 GiB peak RSS.

Run: .venv/bin/python benchmarks/source_tables.py [--rows N | --mimic-rows N --mcmed-rows N]
     [--only mimic|mcmed] [--out /tmp/source_tables] [--keep] [--mimic-iv ../shared/data/mimic-iv-demo]

Generation (timed apart, not part of the goal) is vectorised: pyarrow builds the CSV lines chunk by chunk.
labevents tiles the real demo's 107,727 rows (its values, units, reference ranges, comments, flags, its
duplicate and conflicting rows) over new subjects, admissions and specimens, with times shifted per copy, and
pipes them through ``gzip -1``. numerics.csv is synthetic in MC-MED's layout (CSN, Source, Measure, Value,
Time; 60-s rows per visit, 12 measures, a few exact repeats, unparseable values and unknown CSNs), written
plain as PhysioNet ships it, with a ``visits.csv`` of its CSNs.

Each table is then read in a fresh child process exactly as the cohort builders do (the streamed reader into
``CohortWriter.stream_table``, then ``commit``, which hashes the table), and the child's peak RSS is its
``ru_maxrss`` (from ``os.wait4``: the same field as ``getrusage(RUSAGE_CHILDREN)``, for that child alone).
Prints rows, seconds, rows/s and peak GiB beside the goals; the files are deleted unless ``--keep``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_MIMIC_IV = Path(__file__).resolve().parents[2] / "shared" / "data" / "mimic-iv-demo"
MIMIC_ROWS, MCMED_ROWS = 118_000_000, 100_000_000
GOAL_SECONDS, GOAL_GIB = 15 * 60, 8.0
CHUNK = 2_000_000
LAB_HEADER = (
    "labevent_id,subject_id,hadm_id,specimen_id,itemid,order_provider_id,charttime,storetime,value,"
    "valuenum,valueuom,ref_range_lower,ref_range_upper,flag,priority,comments"
)
MEASURES = ("HR", "RR", "SpO2", "SBP", "DBP", "MAP", "Temp", "Perf", "Pain", "LPM_O2", "1min_HRV", "5min_HRV")
# per measure: (low, high, decimals) of the values drawn
VALUE_RANGES = {
    "HR": (50, 130, 0),
    "RR": (10, 32, 0),
    "SpO2": (85, 100, 0),
    "SBP": (85, 180, 0),
    "DBP": (40, 110, 0),
    "MAP": (55, 130, 0),
    "Temp": (96.0, 102.0, 1),
    "Perf": (0.1, 5.0, 2),
    "Pain": (0, 10, 0),
    "LPM_O2": (0, 6, 0),
    "1min_HRV": (5.0, 80.0, 1),
    "5min_HRV": (5.0, 80.0, 1),
}
N_VISITS = 118_385
TIME_FMT_MIMIC = "%Y-%m-%d %H:%M:%S"
PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), dtype=np.uint8).reshape(100, 2)


# ---------------------------------------------------------------- generation
def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _format_times(seconds: np.ndarray, utc_z: bool) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS`` (or ``YYYY-MM-DDTHH:MM:SSZ``) text of epoch seconds, built as fixed-width
    bytes with numpy (pyarrow's strftime takes ~2 us a value)."""
    days, clock = np.divmod(seconds, 86_400)
    z = days + 719_468  # days to a civil date (H. Hinnant's algorithm), vectorised
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + np.where(mp < 10, 3, -9)
    year = yoe + era * 400 + (month <= 2)
    fields = [  # (two-digit value, position)
        (year // 100, 0),
        (year % 100, 2),
        (month, 5),
        (doy - (153 * mp + 2) // 5 + 1, 8),
        (clock // 3600, 11),
        (clock // 60 % 60, 14),
        (clock % 60, 17),
    ]
    width = 20 if utc_z else 19
    text = np.empty((len(seconds), width), dtype=np.uint8)
    for column, char in ((4, "-"), (7, "-"), (10, "T" if utc_z else " "), (13, ":"), (16, ":")):
        text[:, column] = ord(char)
    if utc_z:
        text[:, 19] = ord("Z")
    for value, position in fields:
        text[:, position : position + 2] = PAIRS[value]
    offsets = np.arange(0, width * len(seconds) + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(seconds), [None, pa.py_buffer(offsets), pa.py_buffer(text)])


def _write_lines(sink: BinaryIO, fields: list[pa.Array]) -> None:
    """Join ``fields`` by commas into lines and write their bytes (no Python loop per row)."""
    lines = pc.binary_join_element_wise(*fields, ",")
    lines = pc.binary_join_element_wise(lines, pa.scalar(""), "\n")  # each line + "\n"
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    sink.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


def _ranks(values: pa.Array) -> tuple[np.ndarray, int]:
    """Dense rank of each value (0..n-1) and n."""
    codes, uniques = pd.factorize(np.asarray(values.to_numpy(zero_copy_only=False), dtype=object))
    return codes, len(uniques)


def _lab_templates(mimic_iv: Path) -> dict[str, Any]:
    """The demo's labevents rows, cut into the fields the copies change and the text they keep."""
    with gzip.open(mimic_iv / "hosp" / "labevents.csv.gz", "rt") as handle:
        header, *lines = handle.read().splitlines()
    if header != LAB_HEADER:
        raise SystemExit(f"unexpected labevents header in {mimic_iv}: {header}")
    fields = pc.split_pattern(pa.array(lines), ",", max_splits=8)  # ids and times never hold a comma
    part = [pc.list_element(fields, i) for i in range(9)]
    subject, n_subjects = _ranks(part[1])
    hadm, n_hadm = _ranks(part[2])
    specimen, n_specimens = _ranks(part[3])
    times = {}
    for name, column in (("chart", part[6]), ("store", part[7])):
        present = pc.not_equal(column, "").to_numpy(zero_copy_only=False)
        seconds = np.zeros(len(lines), dtype=np.int64)
        parsed = pd.to_datetime(
            pd.Series(column.to_numpy(zero_copy_only=False))[present], format=TIME_FMT_MIMIC
        )
        seconds[present] = parsed.to_numpy("datetime64[s]").astype(np.int64)
        times[name] = (seconds, present)
    return {
        "n": len(lines),
        "subject": subject,
        "n_subjects": n_subjects,
        "hadm": hadm,
        "has_hadm": pc.not_equal(part[2], "").to_numpy(zero_copy_only=False),
        "n_hadm": n_hadm,
        "specimen": specimen,
        "n_specimens": n_specimens,
        "itemid": part[4],
        "provider": part[5],
        "times": times,
        "rest": part[8],
    }


def _lab_chunk(t: dict[str, Any], rows: np.ndarray, shift_days: np.ndarray) -> list[pa.Array]:
    template, copy = rows % t["n"], rows // t["n"]
    take = pa.array(template)
    hadm = np.where(t["has_hadm"][template], 20_000_000 + copy * t["n_hadm"] + t["hadm"][template], -1)
    fields = [
        _text(rows + 1),
        _text(10_000_000 + copy * t["n_subjects"] + t["subject"][template]),
        pc.if_else(pa.array(hadm >= 0), _text(hadm), ""),
        _text(1 + copy * t["n_specimens"] + t["specimen"][template]),
        t["itemid"].take(take),
        t["provider"].take(take),
    ]
    for name in ("chart", "store"):
        seconds, present = t["times"][name]
        shifted = seconds[template] + shift_days[copy] * 86_400
        fields.append(pc.if_else(pa.array(present[template]), _format_times(shifted, False), ""))
    return [*fields, t["rest"].take(take)]


def generate_labevents(path: Path, rows: int, mimic_iv: Path) -> float:
    """Write ``rows`` labevents rows to ``path`` (gzip level 1); returns the seconds it took."""
    started = time.perf_counter()
    t = _lab_templates(mimic_iv)
    shift_days = np.random.default_rng(0).integers(-3650, 3650, size=rows // t["n"] + 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        packer = subprocess.Popen(["gzip", "-1", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert packer.stdin is not None
        packer.stdin.write((LAB_HEADER + "\n").encode())
        for start in range(0, rows, CHUNK):
            _write_lines(packer.stdin, _lab_chunk(t, np.arange(start, min(rows, start + CHUNK)), shift_days))
        packer.stdin.close()
        if packer.wait() != 0:
            raise SystemExit("gzip failed")
    return time.perf_counter() - started


def _visits(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MC-MED-like CSNs, their MRNs and arrival times (seconds since 1970, years 2100-2290)."""
    csn = rng.choice(np.arange(10_000_000, 99_999_999), size=N_VISITS, replace=False)
    mrn = 1_000_000 + rng.integers(0, 70_545, size=N_VISITS)
    arrival = rng.integers(4_102_444_800, 10_098_000_000, size=N_VISITS)  # 2100-01-01 .. ~2290
    return csn, mrn, arrival


def _numeric_chunk(rows: np.ndarray, first_row: np.ndarray, visits: tuple, rng: np.random.Generator) -> list:
    csn, _, arrival = visits
    visit = np.searchsorted(first_row, rows, side="right") - 1
    k = rows - first_row[visit]
    measure = k % len(MEASURES)
    low, high, decimals = (np.array([VALUE_RANGES[m][i] for m in MEASURES])[measure] for i in range(3))
    drawn = np.round(rng.uniform(low, high), decimals.astype(np.int64).max())
    drawn = np.where(decimals == 1, np.round(drawn, 1), np.where(decimals == 0, np.round(drawn), drawn))
    value = pc.if_else(pa.array(decimals == 0), _text(drawn.astype(np.int64)), _text(drawn))
    value = pc.if_else(pa.array(rng.random(len(rows)) < 0.0001), "", value)  # empty: counted non-numeric
    unknown = pa.array(rng.random(len(rows)) < 0.00001)  # a CSN not in visits.csv
    fields = [
        pc.if_else(unknown, "1", _text(csn[visit])),
        pa.array(["Monitor", "Chart"]).take(pa.array((rng.random(len(rows)) < 0.08).astype(np.int64))),
        pa.array(MEASURES).take(pa.array(measure)),
        value,
        _format_times(arrival[visit] + (k // len(MEASURES)) * 60, True),
    ]
    repeat = (rng.random(len(rows)) < 0.0005) & (k > 0)  # an exact repeat of the row before (same visit)
    repeat[0] = False
    source = np.arange(len(rows)) - repeat
    return [column.take(pa.array(source)) for column in fields]


def generate_numerics(folder: Path, rows: int) -> float:
    """Write ``rows`` numerics rows and the visits.csv of their CSNs under ``folder``; returns seconds."""
    started = time.perf_counter()
    rng = np.random.default_rng(1)
    visits = _visits(rng)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"MRN": visits[1].astype(str), "CSN": visits[0].astype(str)}).to_csv(
        folder / "visits.csv", index=False
    )
    cut = np.sort(rng.integers(0, rows, size=N_VISITS - 1))
    first_row = np.concatenate([[0], cut])  # where each visit's rows start
    with open(folder / "numerics.csv", "wb") as out:
        out.write(b"CSN,Source,Measure,Value,Time\n")
        for start in range(0, rows, CHUNK):
            rows_now = np.arange(start, min(rows, start + CHUNK))
            _write_lines(out, _numeric_chunk(rows_now, first_row, visits, rng))
    return time.perf_counter() - started


# ---------------------------------------------------------------- timed reading (in a child process)
def read_into_store(table: str, data: Path, store: Path) -> dict[str, Any]:
    """Stream one source table into the ``labs`` (MIMIC) or ``vitals`` (MC-MED) table of a store, commit."""
    from ecglab.cohort.readers import mcmed_tables, mimic_tables
    from ecglab.cohort.schema import empty_table
    from ecglab.cohort.writer import CohortWriter

    started = time.perf_counter()
    with CohortWriter(store, name="source-tables", source=table, overwrite=True) as writer:
        scratch = writer.scratch_folder("table")
        if table == "mimic":
            rows = writer.stream_table("labs", mimic_tables.stream_mimic_labs(data, writer.quality, scratch))
        else:
            visits = pd.read_csv(data / "visits.csv", dtype=str).rename(
                columns={"CSN": "visit_id", "MRN": "patient_id"}
            )
            writer.set_table("labs", empty_table("labs"))
            rows = writer.stream_table(
                "vitals", mcmed_tables.stream_mcmed_numerics(data, writer.quality, visits, scratch)
            )
        read_s = time.perf_counter() - started
        for name in ("patients", "visits"):
            writer.set_table(name, empty_table(name))
        writer.commit()
    quality = writer.quality.to_dict()
    return {
        "rows": rows,
        "read_s": read_s,
        "seconds": time.perf_counter() - started,
        "dropped": {f"{d['reason']}": d["count"] for d in quality["dropped"]},
        "notes": {f"{d['reason']}": d["count"] for d in quality["notes"]},
    }


def timed_child(table: str, data: Path, store: Path) -> dict[str, Any]:
    """Run :func:`read_into_store` in a fresh Python; its result plus the child's peak RSS (GiB)."""
    command = [sys.executable, __file__, "--child", table, "--data", str(data), "--store", str(store)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"the {table} child failed (status {status})")
    result = json.loads(output)
    result["peak_gib"] = usage.ru_maxrss / 2**20  # kilobytes on Linux
    return result


def report(table: str, source: str, generated_s: float, result: dict[str, Any]) -> None:
    rate = result["rows"] / result["seconds"]
    print(f"{table}: {source}, generated in {generated_s:.0f} s")
    print(
        f"  {result['rows']:,} rows kept in {result['seconds']:.0f} s (read+write {result['read_s']:.0f} s, "
        f"then commit/hash): {rate:,.0f} rows/s; peak RSS {result['peak_gib']:.2f} GiB "
        f"(goals: < {GOAL_SECONDS} s, < {GOAL_GIB:g} GiB)"
    )
    print(f"  dropped {result['dropped']}; notes {result['notes']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="rows of both tables (default: their real sizes)")
    parser.add_argument("--mimic-rows", type=int, default=MIMIC_ROWS)
    parser.add_argument("--mcmed-rows", type=int, default=MCMED_ROWS)
    parser.add_argument("--only", choices=("mimic", "mcmed"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/source_tables"))
    parser.add_argument("--mimic-iv", type=Path, default=DEFAULT_MIMIC_IV)
    parser.add_argument("--keep", action="store_true", help="keep the generated files and stores")
    parser.add_argument("--child", choices=("mimic", "mcmed"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(read_into_store(args.child, args.data, args.store)))
        return
    mimic_rows, mcmed_rows = (args.rows, args.rows) if args.rows else (args.mimic_rows, args.mcmed_rows)
    print(f"source tables into a store table; {os.cpu_count()} CPUs; out {args.out}")
    try:
        if args.only != "mcmed":
            data = args.out / "mimic" / "hosp"
            generated = generate_labevents(data / "labevents.csv.gz", mimic_rows, args.mimic_iv)
            shutil.copy(args.mimic_iv / "hosp" / "d_labitems.csv.gz", data / "d_labitems.csv.gz")
            size = (data / "labevents.csv.gz").stat().st_size / 2**30
            result = timed_child("mimic", data, args.out / "mimic-store")
            report("MIMIC-IV labevents -> labs", f"{mimic_rows:,} rows, {size:.2f} GiB gz", generated, result)
        if args.only != "mimic":
            data = args.out / "mcmed"
            generated = generate_numerics(data, mcmed_rows)
            size = (data / "numerics.csv").stat().st_size / 2**30
            result = timed_child("mcmed", data, args.out / "mcmed-store")
            report("MC-MED numerics -> vitals", f"{mcmed_rows:,} rows, {size:.2f} GiB csv", generated, result)
    finally:
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
