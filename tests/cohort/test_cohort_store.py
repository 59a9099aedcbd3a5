"""The cohort store's waveforms (ecglab.cohort.writer, ecglab.cohort.store): bit-exact digital samples,
physical units by the WFDB convention, batched or one at a time, leads selected and cropped, shards rolled
over, and a segment used by several index rows stored once. The ``written`` store: conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from store_fixtures import (
    LEADS_12,
    TINY_SHARD_BYTES,
    Written,
    default_recordings,
    default_tables,
    samples,
    write_store,
)

from ecglab.cohort.errors import CohortError
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.cohort.writer import CohortWriter

# ===================================================================== waveforms: round trip


def test_the_default_store_rolls_over_shards_with_several_recordings_per_shard(
    written: Written, cohort: Cohort
) -> None:
    recordings = cohort.recordings
    assert recordings["shard"].tolist() == [0, 0, 1, 2, 2, 3]
    # a recording's offset is where it starts in its shard, in samples
    assert recordings["offset"].tolist() == [0, 40, 0, 0, 36, 0]
    for spec in cohort.meta["shards"]:
        shard_file = written.path / spec["file"]
        in_shard = recordings[recordings["shard"] == spec["index"]]
        n_leads = len(spec["leads"])
        assert shard_file.stat().st_size == in_shard["length"].sum() * n_leads * 2
        assert spec["dtype"] == "int16"
        if len(in_shard) > 1:
            assert shard_file.stat().st_size <= TINY_SHARD_BYTES
    shard_leads = [tuple(spec["leads"]) for spec in cohort.meta["shards"]]
    assert shard_leads == [("II",), LEADS_12, ("II",), LEADS_12]


def test_digital_returns_the_written_samples_bit_exact(written: Written, cohort: Cohort) -> None:
    assert len(written.segments) == 18
    for sid, seg in written.segments.items():
        digital = cohort.digital(sid)
        assert digital.dtype == np.int16
        assert digital.shape == (seg.length, len(seg.rec.leads))
        np.testing.assert_array_equal(digital, seg.digital)


def test_big_endian_input_is_stored_as_its_values(tmp_path: Path) -> None:
    rec = default_recordings()[0]
    rec.digital = rec.digital.astype(">i2")
    store = write_store(tmp_path / "cohort", [rec])
    np.testing.assert_array_equal(open_cohort(store.path).digital(1), rec.digital[10:30].astype(np.int16))


def test_waveform_is_digital_minus_baseline_over_gain_in_float32(written: Written, cohort: Cohort) -> None:
    for sid, seg in written.segments.items():
        waveform = cohort.waveform(sid)
        assert waveform.dtype == np.float32
        assert waveform.shape == (len(seg.rec.leads), seg.length)  # leads x samples
        # computed in float64 and cast once: equal to the last bit
        np.testing.assert_array_equal(waveform, seg.waveform())
    # the gains and baselines really differ per lead and per recording (else the test above proves little)
    twelve = written.segments[6].rec
    assert len(set(twelve.gain)) == 12 and len(set(twelve.baseline)) == 12


def test_waveforms_batch_equals_stack_of_single_reads_across_shards(written: Written, cohort: Cohort) -> None:
    one_lead_ids = written.ids(1)  # spread over shards 0 and 2
    assert set(cohort.segments.set_index("segment_id").loc[one_lead_ids, "shard"]) == {0, 2}
    ids = one_lead_ids[::-1]  # out of order on purpose
    batch = cohort.waveforms(ids)
    assert batch.dtype == np.float32 and batch.shape == (len(ids), 1, 20)
    np.testing.assert_array_equal(batch, np.stack([cohort.waveform(sid) for sid in ids]))
    np.testing.assert_array_equal(batch, np.stack([written.segments[sid].waveform() for sid in ids]))


def test_waveforms_select_and_reorder_leads(written: Written, cohort: Cohort) -> None:
    ids = written.ids(12)  # shards 1 and 3
    leads = ["V6", "I", "aVR", "II"]
    batch = cohort.waveforms(ids, leads=leads)
    assert batch.shape == (len(ids), 4, 16)
    np.testing.assert_array_equal(batch, np.stack([written.segments[sid].waveform(leads) for sid in ids]))
    np.testing.assert_array_equal(batch[:, 3], cohort.waveforms(ids, leads=["II"])[:, 0])
    np.testing.assert_array_equal(cohort.waveform(ids[0], leads=leads), batch[0])


def test_waveforms_select_a_common_lead_from_recordings_with_different_lead_sets(
    written: Written, cohort: Cohort
) -> None:
    ids = [written.ids(1)[0], written.ids(12)[0], written.ids(1)[-1]]  # 1-lead and 12-lead shards
    batch = cohort.waveforms(ids, leads=["II"], length=12)
    expected = [written.segments[sid].waveform(["II"])[:, :12] for sid in ids]
    np.testing.assert_array_equal(batch, np.stack(expected))


def test_waveforms_crop_with_start_and_length(written: Written, cohort: Cohort) -> None:
    ids = [*written.ids(1)[:2], *written.ids(12)[-2:]]
    starts = np.array([0, 8, 3, 0])
    batch = cohort.waveforms(ids, leads=["II"], start=starts, length=12)
    assert batch.shape == (4, 1, 12)
    for row, (sid, start) in enumerate(zip(ids, starts, strict=True)):
        np.testing.assert_array_equal(batch[row], cohort.waveform(sid, leads=["II"])[:, start : start + 12])


def test_waveforms_crop_outside_its_segment_raises(written: Written, cohort: Cohort) -> None:
    sid = written.ids(1)[0]
    with pytest.raises(ValueError, match="outside"):
        cohort.waveforms([sid], start=[9], length=12)  # 9 + 12 > 20 samples
    with pytest.raises(ValueError, match="outside"):
        cohort.waveforms([sid], start=[-1], length=12)


def test_waveforms_of_different_lengths_need_length(written: Written, cohort: Cohort) -> None:
    ids = [written.ids(1)[0], written.ids(12)[0]]  # 20 and 16 samples
    with pytest.raises(CohortError, match="length="):
        cohort.waveforms(ids, leads=["II"])


def test_a_lead_that_was_not_recorded_raises(written: Written, cohort: Cohort) -> None:
    with pytest.raises(CohortError, match="V1"):
        cohort.waveform(written.ids(1)[0], leads=["V1"])
    with pytest.raises(CohortError, match="V1"):
        cohort.waveforms([written.ids(12)[0], written.ids(1)[0]], leads=["II", "V1"], length=16)


def test_an_unknown_segment_id_raises_key_error(cohort: Cohort) -> None:
    with pytest.raises(KeyError, match="999"):
        cohort.digital(999)
    with pytest.raises(KeyError, match="999"):
        cohort.waveform(999)
    with pytest.raises(KeyError, match="999"):
        cohort.waveforms([0, 999, 1])


def test_waveforms_without_leads_refuse_segments_with_different_lead_sets(tmp_path: Path) -> None:
    first = default_recordings()[2]
    second = default_recordings()[5]
    second.leads = tuple(reversed(LEADS_12))  # same 12 leads, other order: another shard
    store = write_store(tmp_path / "cohort", [first, second])
    cohort = open_cohort(store.path)
    ids = [store.ids(12)[0], store.ids(12)[-1]]
    with pytest.raises(CohortError, match="lead"):
        cohort.waveforms(ids)  # row 0 would be lead I first, row 1 lead V6 first
    np.testing.assert_array_equal(
        cohort.waveforms(ids, leads=list(LEADS_12)),
        np.stack([store.segments[sid].waveform(LEADS_12) for sid in ids]),
    )


# ===================================================================== waveforms: storage


def test_a_segment_used_by_several_overlapping_index_rows_is_stored_once(tmp_path: Path) -> None:
    fs = 50.0
    ten_seconds = samples(int(10 * fs), 12, seed=11)
    with CohortWriter(tmp_path / "cohort", name="x", source="y") as writer:
        recording_id = writer.add_recording(
            patient_id="p1",
            visit_id="v1",
            start_time="2021-01-01",
            fs=fs,
            leads=LEADS_12,
            digital=ten_seconds,
            gain=np.full(12, 100.0),
        )
        whole = writer.add_segments(recording_id, np.array([0, 0]), 500)  # the 10 s, twice
        windows = writer.add_segments(recording_id, np.array([0, 100, 250]), 250)  # overlapping 5-s windows
        for name, frame in default_tables().items():
            writer.set_table(name, frame)
        writer.commit()
    cohort = open_cohort(tmp_path / "cohort")
    (shard,) = cohort.meta["shards"]
    assert (tmp_path / "cohort" / shard["file"]).stat().st_size == ten_seconds.nbytes  # not 2x10 s + 3x5 s
    assert len(cohort.segments) == 5
    for sid in whole:
        np.testing.assert_array_equal(cohort.digital(sid), ten_seconds)
    for sid, start in zip(windows, [0, 100, 250], strict=True):
        np.testing.assert_array_equal(cohort.digital(sid), ten_seconds[start : start + 250])
