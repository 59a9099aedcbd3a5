"""Bad-input catalogue: the readers (issue 12, item 1). Each case is one bad WFDB record, table row or file
and its asserted outcome: a counted skip with its reason while the ingest goes on, a row converted or dropped
and counted, or a one-line ``ecglab: error: ...`` with exit 2. An ingest that stops on a bug in ecglab keeps
its finished parts, and a rerun finishes with the store a fresh run writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from mcmed_tables_fixture import LABS, write_mcmed_tables

import ecglab.cohort.readers.generic as generic
from ecglab.bench.cli import main
from ecglab.cohort.errors import CohortError
from ecglab.cohort.parts import PartWriter
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.csv_files import csv_chunks
from ecglab.cohort.readers.generic import build_generic_cohort, read_generic_labs
from ecglab.cohort.readers.mcmed_tables import ORDER_AFTER_RESULT, read_mcmed_labs, read_mcmed_visits
from ecglab.cohort.readers.mimic import read_record_list
from ecglab.cohort.readers.units import CONVERTED, MIXED, NEGATIVE, OTHER_UNIT
from ecglab.cohort.store import open_cohort

STAGE = "generic records"
TABLE = "generic records table"
START = "2150-01-01 10:00:00"
LABS_CSV = "patient_id,time,lab,value\np1,2150-01-01 10:05:00,POTASSIUM,4.1\n"


# ------------------------------------------------------------------ WFDB records


def _good(folder: Path, name: str, leads: tuple[str, ...] = ("I", "II"), gain: float = 200.0) -> None:
    rng = np.random.default_rng(len(name))
    wfdb.wrsamp(
        name,
        fs=500,
        units=["mV"] * len(leads),
        sig_name=list(leads),
        p_signal=rng.normal(scale=0.5, size=(5000, len(leads))),
        fmt=["16"] * len(leads),
        adc_gain=[gain] * len(leads),
        baseline=[0] * len(leads),
        write_dir=str(folder),
    )


def _edit(folder: Path, name: str, change: Callable[[list[str]], list[str]]) -> None:
    """A good record ``name`` whose header lines are passed through ``change``."""
    _good(folder, name)
    hea = folder / f"{name}.hea"
    hea.write_text("\n".join(change(hea.read_text().splitlines())) + "\n")


def _record_line(field: int, value: str) -> Callable[[list[str]], list[str]]:
    def change(lines: list[str]) -> list[str]:
        tokens = lines[0].split()
        tokens[field] = value
        return [" ".join(tokens), *lines[1:]]

    return change


def _signal_lines(old: str, new: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [lines[0], *(line.replace(old, new, 1) for line in lines[1:])]


def _names(*names: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [
        lines[0],
        *(line.rsplit(" ", 1)[0] + f" {n}" for line, n in zip(lines[1:], names, strict=True)),
    ]


def _multi_segment(folder: Path, name: str, variable: bool) -> None:
    """A multi-segment record wfdb cannot read: variable layout whose segments differ in gain (wfdb raises a
    bare Exception), or fixed layout whose segment is in format 999 (wfdb raises KeyError)."""
    if variable:
        _good(folder, f"{name}_0001", gain=200.0)
        _good(folder, f"{name}_0002", gain=100.0)
        layout = f"{name}_layout 2 500 0\n~ 0 200/mV 16 0 0 0 0 I\n~ 0 200/mV 16 0 0 0 0 II\n"
        (folder / f"{name}_layout.hea").write_text(layout)
        master = f"{name}/3 2 500 10000 {START[11:]} 01/01/2150\n{name}_layout 0\n"
        (folder / f"{name}.hea").write_text(master + f"{name}_0001 5000\n{name}_0002 5000\n")
    else:
        _edit(folder, f"{name}_0001", _signal_lines(" 16 ", " 999 "))
        (folder / f"{name}.hea").write_text(f"{name}/1 2 500 5000\n{name}_0001 5000\n")


def _truncated(folder: Path, name: str) -> None:
    _good(folder, name)
    data = folder / f"{name}.dat"
    data.write_bytes(data.read_bytes()[:7000])


def _no_dat(folder: Path, name: str) -> None:
    _good(folder, name)
    (folder / f"{name}.dat").unlink()


# record -> (how it is written, reason it is counted under)
BAD_RECORDS: dict[str, tuple[Callable[[Path, str], None], str]] = {
    "format_999": (lambda f, n: _edit(f, n, _signal_lines(" 16 ", " 999 ")), "unknown signal format"),
    "rate_zero": (lambda f, n: _edit(f, n, _record_line(2, "0")), "invalid sampling rate"),
    "rate_negative": (lambda f, n: _edit(f, n, _record_line(2, "-500")), "invalid sampling rate"),
    "rate_infinite": (lambda f, n: _edit(f, n, _record_line(2, "1e999")), "invalid sampling rate"),
    "rate_unresamplable": (
        lambda f, n: _edit(f, n, _record_line(2, "1e7")),
        "sampling rate too high to resample to 500 Hz",
    ),
    "zero_samples_per_frame": (
        lambda f, n: _edit(f, n, _signal_lines(" 16 ", " 16x0 ")),
        "invalid samples per frame",
    ),
    "no_signals": (lambda f, n: (f / f"{n}.hea").write_text(f"{n} 0 500 5000\n"), "no signals"),
    "blank_lead_name": (lambda f, n: _edit(f, n, _names("I", "")), "blank lead name"),
    "two_II": (lambda f, n: _edit(f, n, _names("II", "II")), "duplicate lead name"),
    "ii_and_II": (lambda f, n: _edit(f, n, _names("ii", "II")), "duplicate lead name"),
    "truncated_dat": (_truncated, "truncated signal file"),
    "missing_dat": (_no_dat, "missing signal file"),
    "missing_header": (lambda f, n: None, "missing header file"),
    "garbage_header": (
        lambda f, n: (f / f"{n}.hea").write_text("not a header at all\n"),
        "unparseable header",
    ),
    "base_date_30_february": (
        lambda f, n: _edit(f, n, lambda lines: [f"{n} 2 500 5000 10:00:00 30/02/2150", *lines[1:]]),
        "invalid base date/time",
    ),
    "variable_layout_gains": (lambda f, n: _multi_segment(f, n, True), "unreadable by wfdb (Exception)"),
    "segment_format_999": (lambda f, n: _multi_segment(f, n, False), "unreadable by wfdb (KeyError)"),
}
GOOD = ("good_a", "good_b")


def _write_inputs(root: Path, records: list[str], starts: dict[str, str] | None = None) -> None:
    (root / "wfdb").mkdir(parents=True, exist_ok=True)
    (root / "labs.csv").write_text(LABS_CSV)
    starts = starts or {}
    rows = [f"{r},p1,{starts.get(r, START)}" for r in records]
    (root / "records.csv").write_text("record,patient_id,start_time\n" + "\n".join(rows) + "\n")


def _build(root: Path, out: str = "store", **options: object) -> Path:
    options = {"workers": 1, "progress": False, **options}
    return build_generic_cohort(root / "labs.csv", root / "records.csv", root / "wfdb", root / out, **options)


@pytest.fixture(scope="module")
def bad_records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, QualityReport, pd.DataFrame]:
    """One ingest of every bad record, two good ones, and a good one listed twice: it finishes."""
    root = tmp_path_factory.mktemp("bad-records")
    _write_inputs(root, [*BAD_RECORDS, *GOOD, GOOD[0]], starts={"base_date_30_february": ""})
    for name in GOOD:
        _good(root / "wfdb", name)
    for name, (write, _) in BAD_RECORDS.items():
        write(root / "wfdb", name)
    cohort = open_cohort(_build(root))
    return root, cohort.quality, cohort.recordings


@pytest.mark.parametrize(
    ("record", "reason"), [(r, why) for r, (_, why) in BAD_RECORDS.items()], ids=list(BAD_RECORDS)
)
def test_a_bad_record_is_a_counted_skip_and_the_ingest_goes_on(
    bad_records: tuple[Path, QualityReport, pd.DataFrame], record: str, reason: str
) -> None:
    _, quality, recordings = bad_records
    entry = next(d for d in quality.to_dict()["dropped"] if (d["stage"], d["reason"]) == (STAGE, reason))
    assert any(example.startswith(record) for example in entry["examples"]), entry
    assert record not in set(recordings["source_path"])
    assert set(recordings["source_path"]) == set(GOOD)  # the good records are stored, once each


def test_a_record_listed_twice_is_counted_once_and_stored_once(
    bad_records: tuple[Path, QualityReport, pd.DataFrame],
) -> None:
    _, quality, recordings = bad_records
    assert quality.count(TABLE, "record listed twice (first row kept)") == 1
    assert (recordings["source_path"] == GOOD[0]).sum() == 1


def test_a_wfdb_failure_names_its_type_and_first_line(
    bad_records: tuple[Path, QualityReport, pd.DataFrame],
) -> None:
    """Each bad record is counted once; one wfdb fails on keeps wfdb's error in the examples."""
    _, quality, _ = bad_records
    assert sum(d["count"] for d in quality.to_dict()["dropped"] if d["stage"] == STAGE) == len(BAD_RECORDS)
    examples = {d["reason"]: d["examples"] for d in quality.to_dict()["dropped"]}
    assert examples["unreadable by wfdb (KeyError)"] == ["segment_format_999: KeyError: '999'"]
    assert examples["unreadable by wfdb (Exception)"][0].startswith(
        "variable_layout_gains: Exception: This variable layout multi-segment record cannot be converted"
    )


def test_any_numpy_error_reading_one_record_is_its_counted_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_inputs(tmp_path, ["odd", *GOOD])
    for name in ("odd", *GOOD):
        _good(tmp_path / "wfdb", name)
    real = generic.read_record

    def read(path: Path) -> object:
        if Path(path).name == "odd":
            raise ValueError("cannot reshape array of size 3 into shape (2,2)\nsecond line")
        return real(path)

    monkeypatch.setattr(generic, "read_record", read)
    cohort = open_cohort(_build(tmp_path))
    entry = next(d for d in cohort.quality.to_dict()["dropped"] if d["reason"] == "read error (ValueError)")
    assert entry["examples"] == ["odd: ValueError: cannot reshape array of size 3 into shape (2,2)"]
    assert set(cohort.recordings["source_path"]) == set(GOOD)


def test_a_bug_in_ecglab_fails_loudly_and_a_rerun_finishes_with_nothing_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = ["r1", "format_999", "r2", "r3"]
    _write_inputs(tmp_path, records)
    for name in ("r1", "r2", "r3"):
        _good(tmp_path / "wfdb", name)
    BAD_RECORDS["format_999"][0](tmp_path / "wfdb", "format_999")
    real = PartWriter.add_recording

    def buggy(self: PartWriter, **fields: object) -> int:
        if fields["extra"]["source_path"] == "r2":  # type: ignore[index]
            raise RuntimeError("a bug in ecglab")
        return real(self, **fields)

    monkeypatch.setattr(PartWriter, "add_recording", buggy)
    with pytest.raises(RuntimeError, match="a bug in ecglab"):  # not swallowed as a counted skip
        _build(tmp_path, per_part=1)
    assert not (tmp_path / "store").exists()  # nothing that looks complete
    monkeypatch.setattr(PartWriter, "add_recording", real)
    again = open_cohort(_build(tmp_path, per_part=1))
    fresh = open_cohort(_build(tmp_path, out="fresh", per_part=1))
    assert again.content_hash == fresh.content_hash
    assert set(again.recordings["source_path"]) == {"r1", "r2", "r3"}
    assert again.quality.count(STAGE, "unknown signal format") == 1  # counted once, not once per run


# ------------------------------------------------------------------ lab rows (generic, MC-MED, MIMIC)

HEAD = "patient_id,time,lab,value,unit,ref_low,ref_high\n"
T = "2150-01-01 10:00:00"


def _labs(tmp_path: Path, rows: list[str], head: str = HEAD) -> tuple[pd.DataFrame, QualityReport]:
    path = tmp_path / "labs.csv"
    path.write_text(head + "\n".join(rows) + "\n")
    quality = QualityReport()
    return read_generic_labs(path, quality), quality


def test_exact_duplicate_lab_rows_are_counted_and_kept_once(tmp_path: Path) -> None:
    labs, quality = _labs(
        tmp_path, [f"p1,{T},POTASSIUM,4.1,mmol/L,3.5,5.1"] * 3 + [f"p1,{T},SODIUM,140,mmol/L,,"]
    )
    assert quality.count("generic labs", "duplicate row") == 2
    assert labs["lab"].tolist() == ["POTASSIUM", "SODIUM"]


def test_a_lab_in_two_units_is_converted_where_the_factor_is_known(tmp_path: Path) -> None:
    rows = [f"p{i},{T},GLUCOSE,{v},mg/dL,70,99" for i, v in enumerate((90, 100, 110))]
    labs, quality = _labs(tmp_path, [*rows, f"p9,{T},GLUCOSE,5.5,mmol/L,3.9,5.5"])
    assert set(labs["unit"]) == {"mg/dL"}
    converted = labs[labs["patient_id"] == "p9"].iloc[0]
    assert converted["value"] == pytest.approx(5.5 * 18.016)
    assert (converted["ref_low"], converted["ref_high"]) == pytest.approx((3.9 * 18.016, 5.5 * 18.016))
    notes = {n["reason"]: n for n in quality.to_dict()["notes"]}
    assert notes[CONVERTED]["count"] == 1
    assert "GLUCOSE: kept 'mg/dL' (3 rows); 'mmol/L': 1 rows converted" in notes[MIXED]["examples"][0]
    assert quality.total == 0


def test_a_lab_in_two_units_without_a_factor_keeps_its_main_unit(tmp_path: Path) -> None:
    rows = [f"p{i},{T},D-DIMER,{v},ng/mL,," for i, v in enumerate((200, 300))]
    labs, quality = _labs(tmp_path, [*rows, f"p9,{T},D-DIMER,0.5,ng/mL FEU,,", f"p8,{T},D-DIMER,250,,,"])
    assert quality.count("generic labs", OTHER_UNIT) == 1
    entry = next(d for d in quality.to_dict()["dropped"] if d["reason"] == OTHER_UNIT)
    assert "kept ng/mL" in entry["examples"][0]
    assert sorted(labs["value"]) == [200, 250, 300]  # the row without a unit is kept as it is


@pytest.mark.parametrize(
    ("lab", "kept"),
    [("POTASSIUM", False), ("HEMOGLOBIN", False), ('"Calcium, Total"', False), ("BASE EXCESS", True)],
    ids=["potassium", "hemoglobin", "mimic-label", "base-excess-may-be-negative"],
)
def test_a_negative_value_is_dropped_only_where_the_lab_cannot_be_negative(
    tmp_path: Path, lab: str, kept: bool
) -> None:
    labs, quality = _labs(tmp_path, [f"p1,{T},{lab},-1.5,,,"])
    assert len(labs) == int(kept)
    assert quality.count("generic labs", NEGATIVE) == int(not kept)


def test_a_misnamed_column_is_an_error_naming_the_expected_columns(tmp_path: Path) -> None:
    with pytest.raises(
        CohortError, match=r"unknown column\(s\) units \(the labs table takes .* unit.*'units' -> 'unit'"
    ):
        _labs(tmp_path, [f"p1,{T},POTASSIUM,4.1,mmol/L"], head="patient_id,time,lab,value,units\n")


def _mcmed(tmp_path: Path, extra: list[dict[str, str]]) -> tuple[pd.DataFrame, QualityReport]:
    write_mcmed_tables(tmp_path)
    pd.DataFrame([*LABS, *extra]).to_csv(tmp_path / "labs.csv", index=False)
    quality = QualityReport()
    _, visits = read_mcmed_visits(tmp_path, quality)
    return read_mcmed_labs(tmp_path, quality, visits), quality


def _mcmed_lab(name: str, value: str, units: str, order: str, result: str) -> dict[str, str]:
    return {**LABS[0], "Component_name": name, "Component_value": value, "Component_units": units} | {
        "Order_time": order,
        "Result_time": result,
    }


def test_mcmed_an_order_time_after_its_result_time_is_dropped_and_counted(tmp_path: Path) -> None:
    late = _mcmed_lab("SODIUM", "139", "mmol/L", "2283-03-02T09:00:00Z", "2283-03-02T08:30:00Z")
    labs, quality = _mcmed(tmp_path, [late])
    assert quality.count("mc-med labs", ORDER_AFTER_RESULT) == 1
    assert 139.0 not in set(labs["value"])


def test_mcmed_a_lab_in_two_units_and_a_negative_value(tmp_path: Path) -> None:
    when = ("2283-03-02T08:00:00Z", "2283-03-02T08:45:00Z")
    glucose = _mcmed_lab("GLUCOSE", "5.5", "mmol/L", *when)
    negative = _mcmed_lab("POTASSIUM", "-4.0", "mmol/L", "2283-03-02T08:10:00Z", when[1])
    labs, quality = _mcmed(tmp_path, [glucose, negative])
    assert set(labs.loc[labs["lab"] == "GLUCOSE", "unit"]) == {"mg/dL"}
    assert quality.count("mc-med labs", NEGATIVE) == 1
    assert quality.count("mc-med labs", "duplicate row") == 1  # the fixture's repeated POTASSIUM row


def test_mimic_a_record_listed_twice_is_counted_once(tmp_path: Path) -> None:
    row = "10000032,40689238,40689238,2180-07-23 08:44:00,files/p10000032/s40689238/40689238"
    (tmp_path / "record_list.csv").write_text(
        "subject_id,study_id,file_name,ecg_time,path\n" + f"{row}\n{row}\n"
    )
    quality = QualityReport()
    frame = read_record_list(tmp_path, quality, None)
    assert len(frame) == 1
    assert quality.count("mimic-iv-ecg record_list", "record listed twice (first row kept)") == 1


# ------------------------------------------------------------------ unreadable files: one line, exit 2


def _cli_generic(root: Path) -> list[str]:
    return [
        *("cohort", "generic", "--labs", str(root / "labs.csv"), "--records", str(root / "records.csv")),
        *("--wfdb", str(root / "wfdb"), "--out", str(root / "store"), "--quiet", "--workers", "1"),
    ]


@pytest.mark.parametrize(
    ("table", "content", "words"),
    [
        ("labs.csv", b"", ("labs.csv", "empty file")),
        (
            "labs.csv",
            "patient_id,time,lab,value\np1,2150-01-01 10:00:00,Kalium \xe9,4\n".encode("latin-1"),
            ("labs.csv", "not UTF-8"),
        ),
        (
            "labs.csv",
            b"patient_id,time,lab,value\np1,2150-01-01 10:00:00,Calcium, Total,4\n",
            ("labs.csv", "more fields than the header"),
        ),
        ("records.csv", b"", ("records.csv", "empty file")),
        ("records.csv", "record,patient_id\nr\xe9c,p1\n".encode("latin-1"), ("records.csv", "not UTF-8")),
        ("records.csv", b"record,patient,start_time\nr,p1,\n", ("records.csv", "patient_id missing")),
    ],
    ids=[
        "empty-labs",
        "latin1-labs",
        "unquoted-comma-labs",
        "empty-records",
        "latin1-records",
        "misnamed-records-column",
    ],
)
def test_an_unreadable_generic_table_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, content: bytes, words: tuple[str, ...]
) -> None:
    _write_inputs(tmp_path, ["r"])
    _good(tmp_path / "wfdb", "r")
    (tmp_path / table).write_bytes(content)
    assert main(_cli_generic(tmp_path)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecglab: error: "), lines
    assert all(word in lines[0] for word in words), lines[0]
    assert not (tmp_path / "store").exists()


SOURCE_READS: dict[str, Callable[[Path, QualityReport], object]] = {
    "mcmed-visits": read_mcmed_visits,
    "mcmed-labs-latin1": lambda root, q: read_mcmed_labs(root, q, read_mcmed_visits(root, q)[1]),
    "mimic-record-list": lambda root, q: read_record_list(root, q, None),
    "csv-chunks": lambda root, q: list(csv_chunks(root / "labevents.csv", ("subject_id", "itemid"), 10)),
}


@pytest.mark.parametrize(
    ("name", "content", "read", "words"),
    [
        ("visits.csv", b"", "mcmed-visits", "empty file"),
        ("labs.csv", "Négative".encode("latin-1"), "mcmed-labs-latin1", "not UTF-8"),
        ("record_list.csv", b"", "mimic-record-list", "empty file"),
        (
            "record_list.csv",
            b"subject_id,study_id,file_name,ecg_time,path\n1,2,3,\xe9,x\n",
            "mimic-record-list",
            "not UTF-8",
        ),
        ("labevents.csv", b"subject_id,itemid\n1,\xff\xfe\n", "csv-chunks", "not UTF-8"),
    ],
    ids=[
        "mcmed-empty-visits",
        "mcmed-latin1-labs",
        "mimic-empty-record-list",
        "mimic-latin1-record-list",
        "mimic-latin1-labevents",
    ],
)
def test_an_unreadable_source_table_is_a_one_line_cohort_error(
    tmp_path: Path, name: str, content: bytes, read: str, words: str
) -> None:
    write_mcmed_tables(tmp_path)
    path = tmp_path / name
    if read == "mcmed-labs-latin1":  # one value of a real row in Latin-1
        path.write_bytes(path.read_bytes().replace(b"Negative", content))
    else:
        path.write_bytes(content)
    with pytest.raises(CohortError) as caught:
        SOURCE_READS[read](tmp_path, QualityReport())
    message = str(caught.value)
    assert name in message and words in message and "\n" not in message, message
