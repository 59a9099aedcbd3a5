"""WFDB header parsing (ecglab.cohort.readers.wfdb_header) against wfdb.rdheader: signal-line defaults,
start times (beyond 2262 too), the record line without fs, and unparseable or missing headers refused with
the file and line named."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest
import wfdb
from wfdb_checks import (
    assert_header_matches_wfdb,
    assert_reads_like_wfdb,
    random_digital,
    write_header,
    wrsamp,
)

from ecglab.cohort.readers.wfdb_io import WfdbError, read_header
from ecglab.errors import EcglabError

# --- header fields ------------------------------------------------------------------------------------


def test_start_time_beyond_2262_is_exact(tmp_path: Path) -> None:
    path = wrsamp(
        tmp_path,
        "late",
        random_digital("16", 10, 1),
        ["16"],
        base_time=datetime.time(7, 36, 59, 123000),
        base_date=datetime.date(2283, 3, 2),
    )
    header = read_header(path)
    assert (header.base_time, header.base_date) == ("07:36:59.123", "02/03/2283")
    start = header.start_time()
    assert start == np.datetime64("2283-03-02T07:36:59.123000", "us")
    assert start.dtype == np.dtype("datetime64[us]")
    assert start == np.datetime64(wfdb.rdheader(str(path)).base_datetime, "us")


@pytest.mark.parametrize(
    ("time_and_date", "expected"),
    [
        ("12:00:00", None),
        ("5:07 01/01/2300", "2300-01-01T00:05:07"),
        ("9 31/12/2299", "2299-12-31T00:00:09"),
        ("23:59:59.5 29/02/2288", "2288-02-29T23:59:59.500000"),
    ],
)
def test_start_time_forms(tmp_path: Path, time_and_date: str, expected: str | None) -> None:
    header = read_header(write_header(tmp_path, f"h 1 500 10 {time_and_date}\nh.dat 16 200 16 0 0 0 0 II\n"))
    assert header.start_time() == (None if expected is None else np.datetime64(expected, "us"))


@pytest.mark.parametrize(
    "time_and_date", ["08:44:24 30/02/2283", "25:00:00 01/01/2283", "08:61:00 01/01/2283"]
)
def test_impossible_start_time_raises_naming_the_file(tmp_path: Path, time_and_date: str) -> None:
    header = read_header(write_header(tmp_path, f"h 1 500 10 {time_and_date}\nh.dat 16\n"))
    with pytest.raises(WfdbError, match=r"h\.hea: invalid base date/time"):
        header.start_time()


@pytest.mark.parametrize(
    "signal_line",
    [
        "h.dat 16",
        "h.dat 16 0",
        "h.dat 16 0(5)/uV",
        "h.dat 16 100 12 7",
        "h.dat 16 100/mmHg 12 7 3",
        "h.dat 16 -2.5e3(-12)/NU 16 -3 4 55 0 lead with  spaces",
        "h.dat\t16\t200.0(0)/mV\t16\t0\t0\t0\t0\tII",
        "h.dat 16 200 16 0 0 0 name",
    ],
)
def test_signal_line_defaults_match_wfdb(tmp_path: Path, signal_line: str) -> None:
    path = write_header(tmp_path, f"# first\nh 1 360/720(3) 10\n{signal_line}\n\n#  last comment #\n")
    (tmp_path / "h.dat").write_bytes(np.arange(10, dtype="<i2").tobytes())
    assert_header_matches_wfdb(path)
    header = read_header(path)
    assert (header.counter_freq, header.base_counter) == (720.0, 3.0)
    assert header.comments == ("first", "last comment")
    assert_reads_like_wfdb(path)


def test_record_line_without_fs_defaults_to_250_like_wfdb(tmp_path: Path) -> None:
    header = read_header(write_header(tmp_path, "h 0\n"))
    assert (header.fs, header.n_sig, header.n_samples, header.signals) == (250.0, 0, 0, ())
    assert header.fs == wfdb.rdheader(str(tmp_path / "h")).fs


# --- bad headers --------------------------------------------------------------------------------------


def test_missing_header(tmp_path: Path) -> None:
    with pytest.raises(WfdbError, match=r"nope\.hea: WFDB header file not found"):
        read_header(tmp_path / "nope")
    assert issubclass(WfdbError, EcglabError)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("h abc 500 10\n", r"line 1: cannot parse the record line"),
        ("h 1 500 ten\nh.dat 16\n", r"line 1: cannot parse the record line"),
        ("h 1 500 10 8h44\nh.dat 16\n", r"line 1: cannot parse the record line"),
        ("h 1 500 10 08:44:24 2283-03-02\nh.dat 16\n", r"line 1: cannot parse the record line"),
        ("# c\nh 1 500 10\nh.dat sixteen 200\n", r"line 3: cannot parse the signal line"),
        ("h 1 500 10\nh.dat\n", r"line 2: cannot parse the signal line"),
        ("h 1 500 10\nh.dat 16x 200\n", r"line 2: cannot parse the signal line"),
        ("h 2 500 10\nh.dat 16\n", r"the record line declares 2 signals but 1 follow"),
        ("h/2 1 500 10\nseg 5\n", r"the record line declares 2 segments but 1 follow"),
        ("# only a comment\n", r"no record line"),
    ],
)
def test_unparseable_headers(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(WfdbError, match=r"h\.hea: " + match):
        read_header(write_header(tmp_path, text))


def test_no_sample_count_and_no_signal_file(tmp_path: Path) -> None:
    with pytest.raises(WfdbError, match=r"h\.hea: no sample count .*gone\.dat to derive it from is missing"):
        read_header(write_header(tmp_path, "h 1 500\ngone.dat 16\n"))
