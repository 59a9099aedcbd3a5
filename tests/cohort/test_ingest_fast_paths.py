"""The pieces that make the MIMIC-IV-ECG ingest fast store and refuse exactly what the plain ones do:
reading a record straight into a caller's buffer, the folded per-lead extremes, the in-place lead reorder,
and a RecordingBlock filled a few recordings at a time against one add_recording_block call."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglab.cohort import shards
from ecglab.cohort.parts import PartWriter, RecordingBlock
from ecglab.cohort.readers.signal_checks import lead_extremes, reorder_leads
from ecglab.cohort.readers.wfdb_io import WfdbError, can_read_into, read_digital, read_header, record_path

LEADS = ("I", "II", "III")


def write_record(folder: Path, name: str, digital: np.ndarray, fmt: str = "16", offset: int = 0) -> Path:
    n_samples, n_sig = digital.shape
    lines = [f"{name} {n_sig} 500 {n_samples}"] + [
        f"{name}.dat {fmt}{f'+{offset}' if offset else ''} 200(0)/mV 16 0 0 0 0 {LEADS[i]}"
        for i in range(n_sig)
    ]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    (folder / f"{name}.dat").write_bytes(b"\0" * offset + digital.astype("<i2").tobytes())
    return folder / f"{name}.hea"


def test_read_into_equals_read_digital(tmp_path: Path) -> None:
    digital = np.random.default_rng(0).integers(-3000, 3000, size=(700, 3)).astype(np.int16)
    header = read_header(write_record(tmp_path, "r", digital, offset=24))
    assert can_read_into(header)
    out = np.full((700, 3), 7, dtype=np.int16)
    assert read_digital(header, out=out) is out
    np.testing.assert_array_equal(out, read_digital(header))
    with pytest.raises(ValueError, match="int16"):
        read_digital(header, out=np.empty((700, 2), dtype=np.int16))
    with pytest.raises(ValueError, match="C-contiguous"):
        read_digital(header, out=np.empty((3, 700), dtype=np.int16).T)


@pytest.mark.parametrize(("damage", "reason"), [("truncate", "truncated signal file"), ("remove", "missing")])
def test_read_into_refuses_as_read_digital_does(tmp_path: Path, damage: str, reason: str) -> None:
    header = read_header(write_record(tmp_path, "r", np.ones((100, 3), dtype=np.int16)))
    dat = tmp_path / "r.dat"
    if damage == "truncate":
        dat.write_bytes(dat.read_bytes()[:301])
    else:
        dat.unlink()
    errors = []
    for out in (None, np.empty((100, 3), dtype=np.int16)):
        with pytest.raises(WfdbError) as caught:
            read_digital(header, out=out)
        errors.append((caught.value.reason, str(caught.value)))
    assert errors[0] == errors[1] and reason in errors[0][0]


def test_only_one_format_16_file_reads_into_a_buffer(tmp_path: Path) -> None:
    header = read_header(write_record(tmp_path, "r", np.ones((100, 3), dtype=np.int16), fmt="212"))
    assert not can_read_into(header)
    with pytest.raises(ValueError, match="format 16"):
        read_digital(header, out=np.empty((100, 3), dtype=np.int16))


@pytest.mark.parametrize("shape", [(5000, 12), (3, 5000, 12), (7, 12), (2, 5003, 3), (1, 1, 12)])
def test_lead_extremes_equal_min_and_max(shape: tuple[int, ...]) -> None:
    signals = np.random.default_rng(1).integers(-(2**15), 2**15, size=shape).astype(np.int16)
    lowest, highest = lead_extremes(signals)
    np.testing.assert_array_equal(lowest, signals.min(axis=-2))
    np.testing.assert_array_equal(highest, signals.max(axis=-2))


def test_reorder_leads_equals_fancy_indexing() -> None:
    rng = np.random.default_rng(2)
    for n in range(1, 6):
        for order in itertools.permutations(range(n)):
            signals = rng.integers(0, 100, size=(2, 9, n))
            expected = signals[..., list(order)]
            reorder_leads(signals, order)
            np.testing.assert_array_equal(signals, expected)
    with pytest.raises(ValueError, match="permutation"):
        reorder_leads(np.zeros((4, 3)), [0, 0, 1])


def test_record_path_is_the_path_join() -> None:
    roots = ["/data/ecg", "/", "/data//ecg", "data", "/data/./ecg/"]
    paths = ["files/p1/s2/3", "./x", "x/./y", "x//y", "/abs", "x/", "../x", "a/../b"]
    for root, path in itertools.product(roots, paths):
        assert record_path(root, path) == str(Path(root) / path)


def block_arrays(n: int) -> dict:
    rng = np.random.default_rng(3)
    return {
        "digital": rng.integers(-500, 500, size=(n, 50, 3)).astype(np.int16),
        "patient_ids": [f"p{i % 3}" for i in range(n)],
        "visit_ids": [None if i % 2 else f"v{i}" for i in range(n)],
        "start_us": np.arange(n, dtype=np.int64) * 10_000_000,
        "gains": np.full((n, 3), 200.0) + np.arange(n)[:, None],
        "baselines": np.zeros((n, 3)),
    }


def test_a_block_filled_in_pieces_stores_what_one_call_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shards, "FLUSH_BYTES", 700)  # flushes in the background many times
    arrays = block_arrays(11)
    whole = PartWriter(tmp_path / "whole")
    whole.add_recording_block(
        time_zone=None, fs=500.0, leads=LEADS, extra={"study": [str(i) for i in range(11)]}, **arrays
    )
    pieces = PartWriter(tmp_path / "pieces")
    block = RecordingBlock(pieces, leads=LEADS, length=50, dtype="int16", fs=500.0, time_zone=None, n_bytes=1)
    for start, stop in ((0, 4), (4, 4), (4, 11)):
        block.extend(
            arrays["digital"][start:stop],
            patient_ids=arrays["patient_ids"][start:stop],
            visit_ids=arrays["visit_ids"][start:stop],
            start_us=list(arrays["start_us"][start:stop]),
            gains=arrays["gains"][start:stop],
            baselines=arrays["baselines"][start:stop],
            extra=[{"study": str(i)} for i in range(start, stop)],
        )
    block.close()
    for folder in (whole.finish(), pieces.finish()):
        assert folder.is_dir()
    for name in ("recordings.parquet", "segments.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "whole" / name), pd.read_parquet(tmp_path / "pieces" / name)
        )
    assert (tmp_path / "whole" / "shard-00000.int16").read_bytes() == (
        tmp_path / "pieces" / "shard-00000.int16"
    ).read_bytes()
    assert (tmp_path / "whole" / "part.json").read_text() == (tmp_path / "pieces" / "part.json").read_text()


def test_an_empty_block_leaves_no_shard(tmp_path: Path) -> None:
    part = PartWriter(tmp_path / "part")
    block = RecordingBlock(part, leads=LEADS, length=50, dtype="int16", fs=500.0, time_zone=None, n_bytes=1)
    arrays = {k: v[:0] for k, v in block_arrays(2).items()}
    block.extend(arrays.pop("digital"), **arrays)
    assert len(block.close()) == 0
    part.finish()
    assert not list((tmp_path / "part").glob("shard-*"))
