"""Records outside the fast formats go to wfdb.rdrecord, chosen from the header alone: format 61, several
samples per frame, skew, multi-segment; read_digital refuses them (and files mixing formats), and a wfdb
failure is reported, not swallowed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb
from wfdb_checks import random_digital, write_header, wrsamp

from ecglab.cohort.readers.wfdb_io import WfdbError, can_read_fast, read_digital, read_header, read_record

# --- records left to wfdb -----------------------------------------------------------------------------


def _format_61_record(directory: Path) -> tuple[Path, np.ndarray]:
    d = np.array([[1, -2], [300, -32768], [32767, 0]], dtype=np.int16)
    (directory / "be.dat").write_bytes(d.astype(">i2").tobytes())
    path = write_header(
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
    path = wrsamp(directory, "sk", random_digital("16", 12, 2), ["16", "16"])
    hea = path.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    lines[2] = lines[2].replace("sk.dat 16 ", "sk.dat 16:2 ")
    hea.write_text("\n".join(lines) + "\n")
    return path


def _multi_segment_record(directory: Path) -> Path:
    for name, seed in (("seg_1", 1), ("seg_2", 2)):
        wrsamp(directory, name, random_digital("16", 8, 2, seed), ["16", "16"], sig_name=["I", "II"])
    return write_header(directory, "ms/2 2 500 16\nseg_1 8\nseg_2 8\n", "ms")


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
    path = write_header(tmp_path, "h 2 500 4\nh.dat 16\nh.dat 32\n")
    with pytest.raises(WfdbError, match="mix formats"):
        read_digital(read_header(path))


def test_wfdb_failure_is_reported_not_swallowed(tmp_path: Path) -> None:
    path, _ = _format_61_record(tmp_path)
    (tmp_path / "be.dat").unlink()
    with pytest.raises(WfdbError, match=r"be\.hea: wfdb\.rdrecord failed"):
        read_record(path)
