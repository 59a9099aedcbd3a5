"""Checks of the NumPy WFDB reader against wfdb itself: records written with wfdb.wrsamp or by hand, and the
comparisons (same header fields as ``wfdb.rdheader``; same digital, bit-identical physical values as
``wfdb.rdrecord``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from ecglab.cohort.readers.wfdb_io import can_read_fast, read_digital, read_header, read_physical

RANGES = {"16": 2**15, "212": 2**11, "80": 2**7, "24": 2**23, "32": 2**31}


def wrsamp(directory: Path, name: str, d_signal: np.ndarray, fmt: list[str], **fields) -> Path:
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


def random_digital(fmt: str, n_samples: int, n_sig: int, seed: int = 0) -> np.ndarray:
    """Full-range samples, the invalid-sample value (NaN) planted in every channel, and the extremes."""
    rng = np.random.default_rng(seed)
    half = RANGES[fmt]
    d = rng.integers(-half, half - 1, size=(n_samples, n_sig), endpoint=True, dtype=np.int64)
    d[1, :] = -half  # invalid sample -> NaN
    d[2, :] = half - 1
    d[3, :] = -half + 1
    d[rng.integers(0, n_samples, 5), rng.integers(0, n_sig, 5)] = -half
    return d


def write_header(directory: Path, text: str, name: str = "h") -> Path:
    (directory / f"{name}.hea").write_text(text)
    return directory / name


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
