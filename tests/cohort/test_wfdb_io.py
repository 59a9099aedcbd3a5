"""The NumPy WFDB reader against wfdb.rdrecord itself: same digital values, bit-identical physical values
(NaN included), on real PhysioNet records and on records wfdb.wrsamp writes; missing and truncated signal
files are reported. Header parsing: test_wfdb_io_header.py; records left to wfdb: test_wfdb_io_fallback.py."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest
import wfdb
from locations import SHARED_DATA
from wfdb_checks import RANGES, assert_reads_like_wfdb, random_digital, write_header, wrsamp

from ecglab.cohort.readers.wfdb_io import WfdbError, read_digital, read_header, read_physical, read_record

SAMPLES = SHARED_DATA / "wfdb-samples"


needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"real WFDB sample records not found at {SAMPLES} (shared data absent)"
)


MIMIC_LEADS = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]


OUR_DTYPE = {"16": np.int16, "212": np.int16, "80": np.int16, "24": np.int32, "32": np.int32}


# --- real PhysioNet records ---------------------------------------------------------------------------


@needs_samples
@pytest.mark.parametrize(("record", "n_samples", "n_sig"), [("100", 650000, 2), ("s0010_re", 38400, 15)])
def test_real_records_read_bit_identically(record: str, n_samples: int, n_sig: int) -> None:
    digital = assert_reads_like_wfdb(SAMPLES / record)
    assert digital.shape == (n_samples, n_sig)
    assert digital.dtype == np.int16


@needs_samples
def test_two_signal_files_of_s0010_re_both_read() -> None:
    header = read_header(SAMPLES / "s0010_re.hea")
    assert [s.file_name for s in header.signals] == ["s0010_re.dat"] * 12 + ["s0010_re.xyz"] * 3
    assert header.sig_names[-3:] == ("vx", "vy", "vz")
    assert header.comments[:2] == ("age: 81", "sex: female")


@needs_samples
def test_a103l_mat_file_is_format_16_at_byte_offset_24_and_reads_fast() -> None:
    header, digital, reader = read_record(SAMPLES / "a103l")
    assert [(s.fmt, s.byte_offset) for s in header.signals] == [("16", 24)] * 3
    assert reader == "numpy"
    assert np.array_equal(digital, wfdb.rdrecord(str(SAMPLES / "a103l"), physical=False).d_signal)
    assert_reads_like_wfdb(SAMPLES / "a103l")


# --- records written by wfdb.wrsamp -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "n_samples", "n_sig"),
    [
        ("16", 100, 3),
        ("212", 101, 3),
        ("212", 100, 3),
        ("212", 7, 1),
        ("80", 50, 4),
        ("24", 33, 3),
        ("32", 20, 2),
    ],
)
def test_wrsamp_records_read_like_wfdb(tmp_path: Path, fmt: str, n_samples: int, n_sig: int) -> None:
    d = random_digital(fmt, n_samples, n_sig)
    gains = [200.0, 1234.5678, 0.3, 17.0][:n_sig]
    baselines = [0, -1000, 37, 5][:n_sig]
    path = wrsamp(tmp_path, f"r{fmt}", d, [fmt] * n_sig, adc_gain=gains, baseline=baselines)
    digital = assert_reads_like_wfdb(path)
    assert digital.dtype == OUR_DTYPE[fmt]
    assert np.array_equal(digital, d)
    assert np.isnan(read_physical(read_header(path))).sum() == (d == -RANGES[fmt]).sum() > 0


def test_nan_physical_samples_written_by_wrsamp_read_back_as_nan(tmp_path: Path) -> None:
    p = np.linspace(-2.0, 3.0, 60).reshape(20, 3)
    p[[0, 5, 19], [0, 1, 2]] = np.nan
    wfdb.wrsamp(
        "pn",
        fs=250,
        units=["mV"] * 3,
        sig_name=["a", "b", "c"],
        p_signal=p,
        fmt=["16"] * 3,
        adc_gain=[200.0, 150.0, 1000.0],
        baseline=[0, 10, -20],
        write_dir=str(tmp_path),
    )
    physical = read_physical(read_header(tmp_path / "pn"))
    assert np.array_equal(np.isnan(physical), np.isnan(p))
    assert_reads_like_wfdb(tmp_path / "pn")


def test_mimic_iv_ecg_style_12_lead_record(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    d = rng.integers(-3000, 3000, size=(5000, 12))
    path = wrsamp(
        tmp_path,
        "40689238",
        d,
        ["16"] * 12,
        sig_name=MIMIC_LEADS,
        base_time=datetime.time(8, 44, 24),
        base_date=datetime.date(2180, 6, 27),
    )
    header = read_header(path)
    assert header.sig_names == tuple(MIMIC_LEADS)
    assert (header.fs, header.n_samples, header.base_time, header.base_date) == (
        500.0,
        5000,
        "08:44:24",
        "27/06/2180",
    )
    assert all(s.adc_gain == 200.0 and s.units == "mV" for s in header.signals)
    assert header.start_time() == np.datetime64("2180-06-27T08:44:24", "us")
    digital = assert_reads_like_wfdb(path)
    assert np.array_equal(digital, d)


def test_several_signal_files_with_mixed_formats_and_byte_offsets(tmp_path: Path) -> None:
    d = np.column_stack(
        [random_digital("16", 41, 2), random_digital("24", 41, 1), random_digital("212", 41, 1)]
    )
    path = wrsamp(tmp_path, "mix", d, ["16", "16", "24", "212"], adc_gain=[100.0, 200.0, 3.5, 7.0])
    hea = path.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    offsets = {"mix_1.dat": 64, "mix_2.dat": 5}
    for number in range(1, 5):
        file_name, fmt, rest = lines[number].split(" ", 2)
        if file_name in offsets:
            lines[number] = f"{file_name} {fmt}+{offsets[file_name]} {rest}"
    for file_name, offset in offsets.items():
        (tmp_path / file_name).write_bytes(b"\xa5" * offset + (tmp_path / file_name).read_bytes())
    hea.write_text("\n".join(lines) + "\n")
    header = read_header(path)
    assert [s.byte_offset for s in header.signals] == [64, 64, 5, 0]
    digital = assert_reads_like_wfdb(path)
    assert digital.dtype == np.int32
    assert np.array_equal(digital, d)


@pytest.mark.parametrize(("fmt", "n_samples", "n_sig"), [("16", 30, 2), ("212", 31, 3), ("24", 9, 2)])
def test_header_without_sample_count_derives_it_from_the_file_like_wfdb(
    tmp_path: Path, fmt: str, n_samples: int, n_sig: int
) -> None:
    path = wrsamp(tmp_path, "nolen", random_digital(fmt, n_samples, n_sig), [fmt] * n_sig)
    hea = path.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    lines[0] = " ".join(lines[0].split()[:3])
    hea.write_text("\n".join(lines) + "\n")
    assert read_header(path).n_samples == wfdb.rdrecord(str(path), physical=False).sig_len == n_samples
    assert_reads_like_wfdb(path)


def test_derived_sample_count_skips_the_byte_offset_like_wfdb(tmp_path: Path) -> None:
    (tmp_path / "h.dat").write_bytes(b"\x00" * 8 + np.arange(-5, 5, dtype="<i2").tobytes() + b"\x01")
    path = write_header(tmp_path, "h 1 500\nh.dat 16+8 200 16 0 -5 0 0 II\n")
    assert read_header(path).n_samples == wfdb.rdrecord(str(path)).sig_len == 10
    assert np.array_equal(assert_reads_like_wfdb(path)[:, 0], np.arange(-5, 5))


# --- bad signal files ---------------------------------------------------------------------------------


def test_missing_signal_file(tmp_path: Path) -> None:
    header = read_header(write_header(tmp_path, "h 1 500 10\ngone.dat 16 200 16 0 0 0 0 II\n"))
    with pytest.raises(WfdbError, match=r"gone\.dat: signal file not found \(named in .*h\.hea\)"):
        read_digital(header)


@pytest.mark.parametrize(("fmt", "n_sig", "cut", "need"), [("16", 12, 1, 120000), ("212", 3, 2, 22500)])
def test_truncated_signal_file_says_expected_and_actual_bytes(
    tmp_path: Path, fmt: str, n_sig: int, cut: int, need: int
) -> None:
    path = wrsamp(tmp_path, "cut", random_digital(fmt, 5000, n_sig), [fmt] * n_sig)
    dat = tmp_path / "cut.dat"
    dat.write_bytes(dat.read_bytes()[:-cut])
    with pytest.raises(WfdbError, match=rf"cut\.dat: truncated .* need {need} bytes .* has {need - cut}"):
        read_digital(read_header(path))
