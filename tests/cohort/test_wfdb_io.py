"""The NumPy WFDB reader against wfdb.rdrecord itself: same digital values, bit-identical physical values
(NaN included), same header fields, on real PhysioNet records and on records wfdb.wrsamp writes."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest
import wfdb
from locations import SHARED_DATA

from ecglab.cohort.readers.wfdb_io import (
    WfdbError,
    can_read_fast,
    read_digital,
    read_header,
    read_physical,
    read_record,
)
from ecglab.errors import EcglabError

SAMPLES = SHARED_DATA / "wfdb-samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"real WFDB sample records not found at {SAMPLES} (shared data absent)"
)
MIMIC_LEADS = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]
RANGES = {"16": 2**15, "212": 2**11, "80": 2**7, "24": 2**23, "32": 2**31}
OUR_DTYPE = {"16": np.int16, "212": np.int16, "80": np.int16, "24": np.int32, "32": np.int32}


def _wrsamp(directory: Path, name: str, d_signal: np.ndarray, fmt: list[str], **fields) -> Path:
    n_sig = d_signal.shape[1]
    fields.setdefault("adc_gain", [200.0] * n_sig)
    fields.setdefault("baseline", [0] * n_sig)
    wfdb.wrsamp(
        name,
        fs=fields.pop("fs", 500),
        units=fields.pop("units", ["mV"] * n_sig),
        sig_name=fields.pop("sig_name", [f"s{i}" for i in range(n_sig)]),
        d_signal=d_signal,
        fmt=fmt,
        write_dir=str(directory),
        **fields,
    )
    return directory / name


def _random_digital(fmt: str, n_samples: int, n_sig: int, seed: int = 0) -> np.ndarray:
    """Full-range samples, the invalid-sample value (NaN) planted in every channel, and the extremes."""
    rng = np.random.default_rng(seed)
    half = RANGES[fmt]
    d = rng.integers(-half, half - 1, size=(n_samples, n_sig), endpoint=True, dtype=np.int64)
    d[1, :] = -half  # invalid sample -> NaN
    d[2, :] = half - 1
    d[3, :] = -half + 1
    d[rng.integers(0, n_samples, 5), rng.integers(0, n_sig, 5)] = -half
    return d


def assert_header_matches_wfdb(path: Path) -> None:
    ours, theirs = read_header(path), wfdb.rdheader(str(path))
    assert (ours.record_name, ours.n_sig, ours.fs) == (theirs.record_name, theirs.n_sig, theirs.fs)
    if theirs.sig_len is not None:  # else derived from the signal file, checked against rdrecord
        assert ours.n_samples == theirs.sig_len
    assert list(ours.comments) == theirs.comments
    if theirs.base_date is not None:
        assert ours.start_time() == np.datetime64(theirs.base_datetime, "us")
    for ch, s in enumerate(ours.signals):
        assert s.file_name == theirs.file_name[ch]
        assert s.fmt == theirs.fmt[ch]
        assert s.samples_per_frame == theirs.samps_per_frame[ch]
        assert s.skew == (theirs.skew[ch] or 0)
        assert s.byte_offset == (theirs.byte_offset[ch] or 0)
        assert s.adc_gain == theirs.adc_gain[ch]
        assert s.baseline == theirs.baseline[ch]
        assert s.units == theirs.units[ch]
        assert s.adc_resolution == (theirs.adc_res[ch] or 0)
        assert s.adc_zero == (theirs.adc_zero[ch] or 0)
        assert s.checksum == (theirs.checksum[ch] or 0)
        assert s.block_size == (theirs.block_size[ch] or 0)
        assert s.sig_name == (theirs.sig_name[ch] or "")
        if theirs.init_value[ch] is not None:
            assert s.init_value == theirs.init_value[ch]


def assert_reads_like_wfdb(path: Path) -> np.ndarray:
    """Digital values equal, physical float64 bit patterns equal (NaN where wfdb has NaN); returns digital."""
    header = read_header(path)
    assert can_read_fast(header)
    digital = read_digital(header)
    expected = wfdb.rdrecord(str(path), physical=False).d_signal
    assert digital.shape == expected.shape == (header.n_samples, header.n_sig)
    assert np.array_equal(digital, expected)
    physical = read_physical(header)
    expected_physical = wfdb.rdrecord(str(path)).p_signal
    assert physical.dtype == expected_physical.dtype == np.float64
    assert np.array_equal(physical.view(np.uint64), expected_physical.view(np.uint64))
    assert np.array_equal(read_physical(header, digital).view(np.uint64), physical.view(np.uint64))
    assert_header_matches_wfdb(path)
    return digital


# --- real PhysioNet records -------------------------------------------------------------------------------


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


# --- records written by wfdb.wrsamp -----------------------------------------------------------------------


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
    d = _random_digital(fmt, n_samples, n_sig)
    gains = [200.0, 1234.5678, 0.3, 17.0][:n_sig]
    baselines = [0, -1000, 37, 5][:n_sig]
    path = _wrsamp(tmp_path, f"r{fmt}", d, [fmt] * n_sig, adc_gain=gains, baseline=baselines)
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
    path = _wrsamp(
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
        [_random_digital("16", 41, 2), _random_digital("24", 41, 1), _random_digital("212", 41, 1)]
    )
    path = _wrsamp(tmp_path, "mix", d, ["16", "16", "24", "212"], adc_gain=[100.0, 200.0, 3.5, 7.0])
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
    path = _wrsamp(tmp_path, "nolen", _random_digital(fmt, n_samples, n_sig), [fmt] * n_sig)
    hea = path.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    lines[0] = " ".join(lines[0].split()[:3])
    hea.write_text("\n".join(lines) + "\n")
    assert read_header(path).n_samples == wfdb.rdrecord(str(path), physical=False).sig_len == n_samples
    assert_reads_like_wfdb(path)


def test_derived_sample_count_skips_the_byte_offset_like_wfdb(tmp_path: Path) -> None:
    (tmp_path / "h.dat").write_bytes(b"\x00" * 8 + np.arange(-5, 5, dtype="<i2").tobytes() + b"\x01")
    path = _write_header(tmp_path, "h 1 500\nh.dat 16+8 200 16 0 -5 0 0 II\n")
    assert read_header(path).n_samples == wfdb.rdrecord(str(path)).sig_len == 10
    assert np.array_equal(assert_reads_like_wfdb(path)[:, 0], np.arange(-5, 5))


# --- header fields ----------------------------------------------------------------------------------------


def test_start_time_beyond_2262_is_exact(tmp_path: Path) -> None:
    path = _wrsamp(
        tmp_path,
        "late",
        _random_digital("16", 10, 1),
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


def _write_header(directory: Path, text: str, name: str = "h") -> Path:
    (directory / f"{name}.hea").write_text(text)
    return directory / name


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
    header = read_header(_write_header(tmp_path, f"h 1 500 10 {time_and_date}\nh.dat 16 200 16 0 0 0 0 II\n"))
    assert header.start_time() == (None if expected is None else np.datetime64(expected, "us"))


@pytest.mark.parametrize(
    "time_and_date", ["08:44:24 30/02/2283", "25:00:00 01/01/2283", "08:61:00 01/01/2283"]
)
def test_impossible_start_time_raises_naming_the_file(tmp_path: Path, time_and_date: str) -> None:
    header = read_header(_write_header(tmp_path, f"h 1 500 10 {time_and_date}\nh.dat 16\n"))
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
    path = _write_header(tmp_path, f"# first\nh 1 360/720(3) 10\n{signal_line}\n\n#  last comment #\n")
    (tmp_path / "h.dat").write_bytes(np.arange(10, dtype="<i2").tobytes())
    assert_header_matches_wfdb(path)
    header = read_header(path)
    assert (header.counter_freq, header.base_counter) == (720.0, 3.0)
    assert header.comments == ("first", "last comment")
    assert_reads_like_wfdb(path)


def test_record_line_without_fs_defaults_to_250_like_wfdb(tmp_path: Path) -> None:
    header = read_header(_write_header(tmp_path, "h 0\n"))
    assert (header.fs, header.n_sig, header.n_samples, header.signals) == (250.0, 0, 0, ())
    assert header.fs == wfdb.rdheader(str(tmp_path / "h")).fs


# --- records left to wfdb ---------------------------------------------------------------------------------


def _format_61_record(directory: Path) -> tuple[Path, np.ndarray]:
    d = np.array([[1, -2], [300, -32768], [32767, 0]], dtype=np.int16)
    (directory / "be.dat").write_bytes(d.astype(">i2").tobytes())
    path = _write_header(
        directory, "be 2 500 3\nbe.dat 61 200 16 0 1 0 0 I\nbe.dat 61 200 16 0 -2 0 0 II\n", "be"
    )
    return path, d


def _multi_frequency_record(directory: Path) -> Path:
    e_d = [np.arange(20, dtype=np.int64) * 3, np.arange(10, dtype=np.int64) - 5]
    wfdb.wrsamp(
        "mf",
        fs=500,
        units=["mV", "mV"],
        sig_name=["fast", "slow"],
        e_d_signal=e_d,
        samps_per_frame=[2, 1],
        fmt=["16", "16"],
        adc_gain=[200.0, 200.0],
        baseline=[0, 0],
        write_dir=str(directory),
    )
    return directory / "mf"


def _skewed_record(directory: Path) -> Path:
    path = _wrsamp(directory, "sk", _random_digital("16", 12, 2), ["16", "16"])
    hea = path.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    lines[2] = lines[2].replace("sk.dat 16 ", "sk.dat 16:2 ")
    hea.write_text("\n".join(lines) + "\n")
    return path


def _multi_segment_record(directory: Path) -> Path:
    for name, seed in (("seg_1", 1), ("seg_2", 2)):
        _wrsamp(directory, name, _random_digital("16", 8, 2, seed), ["16", "16"], sig_name=["I", "II"])
    return _write_header(directory, "ms/2 2 500 16\nseg_1 8\nseg_2 8\n", "ms")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: _format_61_record(d)[0], "format 61"),
        (_multi_frequency_record, "2 samples per frame"),
        (_skewed_record, "skew of 2"),
        (_multi_segment_record, "multi-segment"),
    ],
)
def test_other_records_go_to_wfdb_by_their_header(tmp_path: Path, make, reason: str) -> None:
    path = make(tmp_path)
    header = read_header(path)
    assert not can_read_fast(header)
    with pytest.raises(WfdbError, match=reason):
        read_digital(header)
    _, digital, reader = read_record(path)
    assert reader == "wfdb"
    assert np.array_equal(digital, wfdb.rdrecord(str(path), physical=False).d_signal)


def test_format_61_values_via_wfdb(tmp_path: Path) -> None:
    path, d = _format_61_record(tmp_path)
    _, digital, reader = read_record(path)
    assert reader == "wfdb"
    assert np.array_equal(digital, d)


def test_mixed_formats_in_one_file_are_not_fast(tmp_path: Path) -> None:
    path = _write_header(tmp_path, "h 2 500 4\nh.dat 16\nh.dat 32\n")
    with pytest.raises(WfdbError, match="mix formats"):
        read_digital(read_header(path))


# --- bad input --------------------------------------------------------------------------------------------


def test_missing_header(tmp_path: Path) -> None:
    with pytest.raises(WfdbError, match=r"nope\.hea: WFDB header file not found"):
        read_header(tmp_path / "nope")
    assert issubclass(WfdbError, EcglabError)


def test_missing_signal_file(tmp_path: Path) -> None:
    header = read_header(_write_header(tmp_path, "h 1 500 10\ngone.dat 16 200 16 0 0 0 0 II\n"))
    with pytest.raises(WfdbError, match=r"gone\.dat: signal file not found \(named in .*h\.hea\)"):
        read_digital(header)


@pytest.mark.parametrize(("fmt", "n_sig", "cut", "need"), [("16", 12, 1, 120000), ("212", 3, 2, 22500)])
def test_truncated_signal_file_says_expected_and_actual_bytes(
    tmp_path: Path, fmt: str, n_sig: int, cut: int, need: int
) -> None:
    path = _wrsamp(tmp_path, "cut", _random_digital(fmt, 5000, n_sig), [fmt] * n_sig)
    dat = tmp_path / "cut.dat"
    dat.write_bytes(dat.read_bytes()[:-cut])
    with pytest.raises(WfdbError, match=rf"cut\.dat: truncated .* need {need} bytes .* has {need - cut}"):
        read_digital(read_header(path))


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
        read_header(_write_header(tmp_path, text))


def test_no_sample_count_and_no_signal_file(tmp_path: Path) -> None:
    with pytest.raises(WfdbError, match=r"h\.hea: no sample count .*gone\.dat to derive it from is missing"):
        read_header(_write_header(tmp_path, "h 1 500\ngone.dat 16\n"))


def test_wfdb_failure_is_reported_not_swallowed(tmp_path: Path) -> None:
    path, _ = _format_61_record(tmp_path)
    (tmp_path / "be.dat").unlink()
    with pytest.raises(WfdbError, match=r"be\.hea: wfdb\.rdrecord failed"):
        read_record(path)
