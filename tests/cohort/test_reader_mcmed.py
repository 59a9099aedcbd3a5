"""MC-MED reader end to end: the small MC-MED table fixture plus lead-II records cut from real PhysioNet
records (MIT-BIH ``100`` and CinC ``a103l``, resampled to 500 Hz) in the layout
``waveforms/{last 3 digits of CSN}/{CSN}/II/{CSN}_{seg}``, with header start times in the shifted years MC-MED
uses (2199 and 2283, past pandas' nanosecond range)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import wfdb
from mcmed_tables_fixture import write_mcmed_tables
from wfdb_fixtures import lead_ii_sources, require_shared_data, write_mcmed_waveform

import ecglab.cohort.readers.mcmed as mcmed_reader
from ecglab.bench.cli import main
from ecglab.cohort.readers.mcmed import build_mcmed_cohort
from ecglab.cohort.store import open_cohort

WAVEFORMS, SEGMENTS = "mc-med waveforms", "mc-med segments"  # the reader's two quality stages
WINDOW = 5000  # 10 s at 500 Hz

# (CSN, segment number, source record, first sample, samples, header start (UTC)); no length is a whole
# number of 10-s windows, so every record has a partial tail window
RECORDS = [
    ("1001", 1, "100", 0, 23_456, "2283-03-02 07:40:00"),  # 46.9 s: 4 windows
    ("1001", 2, "100", 60_000, 15_321, "2283-03-02 08:05:30"),  # 30.6 s: 3 windows
    ("2003", 1, "a103l", 10_000, 27_500, "2199-12-31 23:59:40"),  # 55 s: 5 windows, into the year 2200
]
N_WINDOWS = sum(n // WINDOW for *_, n, _ in RECORDS)


def _lead_ii(source: str, first: int, samples: int) -> np.ndarray:
    return lead_ii_sources()[source][first : first + samples].copy()


def _write(root: Path, csn: str, seg: int, signal: np.ndarray, start: str = "2283-03-02 09:00:00") -> Path:
    return write_mcmed_waveform(root, csn, seg, signal, pd.Timestamp(start))


def _write_records(root: Path) -> dict[str, Any]:
    require_shared_data()
    expected = write_mcmed_tables(root)
    for csn, seg, source, first, samples, start in RECORDS:
        _write(root, csn, seg, _lead_ii(source, first, samples), start)
    return expected


@pytest.fixture(scope="module")
def mcmed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The MC-MED folder, what its tables must give, and the store built from it."""
    root = tmp_path_factory.mktemp("mcmed")
    expected = _write_records(root)
    out = tmp_path_factory.mktemp("mcmed_store") / "store"
    store = build_mcmed_cohort(root, out, workers=2, per_part=2, progress=False)
    return {"root": root, "expected": expected, "store": store}


def _by_record(cohort: Any) -> pd.DataFrame:
    return cohort.recordings.sort_values(["visit_id", "segment_number"]).reset_index(drop=True)


# ------------------------------------------------------------------ end to end


def test_each_record_is_stored_whole_as_one_recording(mcmed: dict[str, Any]) -> None:
    cohort = open_cohort(mcmed["store"])
    recordings = _by_record(cohort)
    assert len(recordings) == len(RECORDS) == cohort.extra["mcmed"]["waveform_records"]
    for row, (csn, seg, _source, _first, samples, start) in zip(
        recordings.itertuples(), RECORDS, strict=True
    ):
        assert (row.visit_id, row.segment_number) == (csn, seg)
        assert row.patient_id == mcmed["expected"]["visit_to_patient"][csn]
        assert row.source_path == f"waveforms/{csn[-3:]}/{csn}/II/{csn}_{seg}"
        assert row.length == samples  # the partial tail is stored too, only not indexed
        assert row.start_time == pd.Timestamp(start, tz="UTC")
        assert (row.fs, row.leads) == (500.0, "II")
        assert row.gain.tolist() == [200.0] and row.baseline.tolist() == [0.0]
    assert cohort.meta["time_zone"] == "UTC"


def test_segments_are_the_whole_10s_windows_of_each_recording(mcmed: dict[str, Any]) -> None:
    cohort = open_cohort(mcmed["store"])
    segments = cohort.segments
    assert len(segments) == N_WINDOWS
    assert (segments["length"] == WINDOW).all() and (segments["fs"] == 500.0).all()
    assert str(segments["start_time"].dt.tz) == "UTC"
    for rec in _by_record(cohort).itertuples():
        mine = segments[segments["recording_id"] == rec.recording_id].sort_values("offset")
        k = np.arange(rec.length // WINDOW)
        assert mine["offset"].tolist() == (rec.offset + k * WINDOW).tolist()
        assert mine["start_time"].tolist() == [rec.start_time + pd.Timedelta(seconds=10 * i) for i in k]
        assert (mine["patient_id"] == rec.patient_id).all() and (mine["visit_id"] == rec.visit_id).all()
    late = segments.loc[segments["visit_id"] == "2003", "start_time"].sort_values()
    assert [t.isoformat() for t in late[:3]] == [
        "2199-12-31T23:59:40+00:00",
        "2199-12-31T23:59:50+00:00",
        "2200-01-01T00:00:00+00:00",
    ]
    assert cohort.quality.count(SEGMENTS, "partial 10-s window at recording end") == len(RECORDS)


def test_every_waveform_equals_the_wfdb_physical_values(mcmed: dict[str, Any]) -> None:
    cohort = open_cohort(mcmed["store"])
    segments = cohort.segments
    for rec in cohort.recordings.itertuples():
        physical = wfdb.rdrecord(str(mcmed["root"] / rec.source_path)).p_signal  # float64 mV
        mine = segments[segments["recording_id"] == rec.recording_id]
        starts = (mine["offset"] - rec.offset).to_numpy()
        expected = np.stack([physical[s : s + WINDOW, 0] for s in starts])[:, None, :].astype(np.float32)
        np.testing.assert_array_equal(cohort.waveforms(mine["segment_id"].to_numpy()), expected)
        np.testing.assert_array_equal(cohort.waveform(int(mine["segment_id"].iloc[-1])), expected[-1])


def test_patients_visits_labs_and_vitals_come_from_the_tables(mcmed: dict[str, Any]) -> None:
    cohort = open_cohort(mcmed["store"])
    expected = mcmed["expected"]
    assert len(cohort.patients) == expected["n_patients"]
    assert len(cohort.visits) == expected["n_visits"]
    assert len(cohort.labs) == expected["n_labs"]
    assert len(cohort.vitals) == expected["n_vitals"]
    visits = cohort.visits.set_index("visit_id")["patient_id"].to_dict()
    assert visits == expected["visit_to_patient"]
    report = cohort.quality.to_dict()
    drops = {(d["stage"], d["reason"]): d["count"] for d in report["dropped"]}
    notes = {(d["stage"], d["reason"]): d["count"] for d in report["notes"]}
    # the tables' drops exactly as the table readers count them; of the waveforms, only the partial tails
    tails = {(SEGMENTS, "partial 10-s window at recording end"): len(RECORDS)}
    assert drops == {**expected["drops"], **expected["blanked"], **tails}
    assert notes == expected["notes"]


# ------------------------------------------------------------------ bad input


def test_unusable_records_windows_and_folders_are_counted_by_reason(tmp_path: Path) -> None:
    require_shared_data()
    root = tmp_path / "mcmed"
    write_mcmed_tables(root)
    signal = _lead_ii("100", 0, 20_000)  # 40 s, four whole windows
    _write(root, "1001", 1, signal[:12_345])  # the one record read without trouble (+ a partial tail)
    # CSNs without a visit row: 9999 is in no table, 3004's visit row was dropped (30 February)
    for csn, seg in (("9999", 1), ("9999", 2), ("3004", 1)):
        _write(root, csn, seg, signal[:WINDOW])
    missing = _write(root, "1002", 1, signal[:WINDOW])
    missing.with_suffix(".dat").unlink()  # the header points at a missing .dat
    truncated = _write(root, "1002", 2, signal[:WINDOW]).with_suffix(".dat")
    truncated.write_bytes(truncated.read_bytes()[:-1000])
    header = _write(root, "2003", 1, signal[:WINDOW]).with_suffix(".hea")
    header.write_text(header.read_text().replace(" 1 500 5000 ", " 1 250 5000 ", 1))  # a 250-Hz record
    header = _write(root, "2003", 2, signal[:WINDOW]).with_suffix(".hea")
    header.write_text(header.read_text().replace(" II\n", " MLII\n"))  # its only signal is not named II
    damaged = signal.copy()
    damaged[5_100:5_110] = np.nan  # written as WFDB's invalid-sample value -32768: 2nd window unusable
    damaged[10_000:16_000] = 0.5  # 12 s of one value, lead off: the 3rd window is flat, the 4th is not
    damaged_path = _write(root, "4005", 1, damaged)
    assert (wfdb.rdrecord(str(damaged_path), physical=False).d_signal[5_100:5_110] == -32768).all()
    (root / "waveforms" / "060").mkdir()
    _write(root, "4006", 1, signal[:WINDOW]).parents[1].rename(root / "waveforms" / "060" / "4006")
    stray = _write(root, "1002", 3, signal[:WINDOW])  # a file of CSN 1002 in the folder of CSN 1001
    for suffix in (".hea", ".dat"):
        stray.with_suffix(suffix).rename(root / "waveforms" / "001" / "1001" / "II" / f"1002_3{suffix}")

    cohort = open_cohort(build_mcmed_cohort(root, tmp_path / "store", workers=1, progress=False))
    quality = cohort.quality
    assert quality.count(WAVEFORMS, "CSN with waveforms but no visit row") == 3  # one per record file
    assert quality.count(WAVEFORMS, "CSN folder under the wrong last-3-digits folder") == 1
    assert quality.count(WAVEFORMS, "segment file named for another CSN") == 1
    assert quality.count(WAVEFORMS, "missing signal file") == 1
    assert quality.count(WAVEFORMS, "truncated signal file") == 1
    assert quality.count(WAVEFORMS, "sampling rate not 500 Hz") == 1
    assert quality.count(WAVEFORMS, "no lead II signal") == 1
    assert quality.count(SEGMENTS, "10-s window with invalid (NaN) samples") == 1
    assert quality.count(SEGMENTS, "10-s window with a flat lead") == 1
    assert quality.count(SEGMENTS, "partial 10-s window at recording end") == 1  # 1001_1
    waveform_drops = [d for d in quality.to_dict()["dropped"] if d["stage"] in (WAVEFORMS, SEGMENTS)]
    assert len(waveform_drops) == 10  # and no other reason
    assert sorted(cohort.recordings["source_path"]) == [
        "waveforms/001/1001/II/1001_1",
        "waveforms/005/4005/II/4005_1",
    ]
    damaged_rec = cohort.recordings.set_index("visit_id").loc["4005"]
    assert damaged_rec["length"] == 20_000  # stored whole, bad windows included, but not indexed
    offsets = cohort.segments.loc[cohort.segments["visit_id"] == "4005", "offset"] - damaged_rec["offset"]
    assert sorted(offsets) == [0, 15_000]


def test_a_record_shorter_than_10s_is_counted_not_fatal(tmp_path: Path) -> None:
    require_shared_data()
    root = tmp_path / "mcmed"
    write_mcmed_tables(root)
    _write(root, "1001", 1, _lead_ii("100", 0, 12_000))
    _write(root, "1001", 2, _lead_ii("100", 0, 3_000))  # 6 s: monitoring stopped at once
    cohort = open_cohort(build_mcmed_cohort(root, tmp_path / "store", workers=1, progress=False))
    assert cohort.quality.count(WAVEFORMS, "no usable 10-s window") == 1
    assert cohort.quality.count(SEGMENTS, "partial 10-s window at recording end") == 2
    assert cohort.recordings["segment_number"].tolist() == [1]


def test_a_header_with_an_impossible_date_is_counted_not_fatal(tmp_path: Path) -> None:
    require_shared_data()
    root = tmp_path / "mcmed"
    write_mcmed_tables(root)
    _write(root, "1001", 1, _lead_ii("100", 0, 12_000), "2283-03-02 07:40:00")
    header = _write(root, "1001", 2, _lead_ii("100", 0, 12_000), "2283-03-02 08:00:00").with_suffix(".hea")
    header.write_text(header.read_text().replace("02/03/2283", "30/02/2283", 1))  # 30 February
    cohort = open_cohort(build_mcmed_cohort(root, tmp_path / "store", workers=1, progress=False))
    assert cohort.quality.count(WAVEFORMS, "invalid base date/time") == 1
    assert cohort.recordings["segment_number"].tolist() == [1]


def test_bad_header_values_are_counted_and_the_ingest_goes_on(tmp_path: Path) -> None:
    """Format 999 (wfdb would raise KeyError), a sampling rate of 0, two signals named II: each a counted
    skip; the good record is stored."""
    require_shared_data()
    root = tmp_path / "mcmed"
    write_mcmed_tables(root)
    _write(root, "1001", 1, _lead_ii("100", 0, 10_000), "2283-03-02 07:40:00")

    def two_ii(lines: list[str]) -> list[str]:  # the one signal line twice, over half the samples
        tokens = lines[0].split()
        return [" ".join([tokens[0], "2", tokens[2], "5000", *tokens[4:]]), lines[1], lines[1]]

    edits = {
        2: lambda lines: [lines[0], lines[1].replace(" 16 ", " 999 ", 1)],
        3: lambda lines: [lines[0].replace(" 500 ", " 0 ", 1), lines[1]],
        4: two_ii,
    }
    for segment, edit in edits.items():
        header = _write(root, "1001", segment, _lead_ii("100", 0, 10_000), "2283-03-02 08:00:00")
        hea = header.with_suffix(".hea")
        hea.write_text("\n".join(edit(hea.read_text().splitlines())) + "\n")
    cohort = open_cohort(build_mcmed_cohort(root, tmp_path / "store", workers=1, progress=False))
    for reason in ("unknown signal format", "invalid sampling rate", "duplicate lead name"):
        assert cohort.quality.count(WAVEFORMS, reason) == 1, reason
    assert cohort.recordings["segment_number"].tolist() == [1]


def test_a_record_whose_samples_do_not_fit_int16_is_counted_not_wrapped(tmp_path: Path) -> None:
    require_shared_data()
    root = tmp_path / "mcmed"
    write_mcmed_tables(root)
    _write(root, "1001", 1, _lead_ii("100", 0, 10_000))
    folder = root / "waveforms" / "001" / "1001" / "II"
    wfdb.wrsamp(  # a high-resolution export: format 32 at 50000 units/mV, so 0.66 mV is beyond int16
        "1001_2",
        fs=500,
        units=["mV"],
        sig_name=["II"],
        p_signal=_lead_ii("100", 0, 10_000)[:, None],
        fmt=["32"],
        adc_gain=[50_000.0],
        baseline=[0],
        base_datetime=pd.Timestamp("2283-03-02 08:00:00").to_pydatetime(),
        write_dir=str(folder),
    )
    assert np.abs(wfdb.rdrecord(str(folder / "1001_2"), physical=False).d_signal).max() > 2**15
    cohort = open_cohort(build_mcmed_cohort(root, tmp_path / "store", workers=1, progress=False))
    assert cohort.quality.count(WAVEFORMS, "digital values outside int16") == 1  # the generic reader's reason
    for rec in cohort.recordings.itertuples():  # whatever is stored must be the record's values
        physical = wfdb.rdrecord(str(root / rec.source_path)).p_signal[:WINDOW, 0].astype(np.float32)
        segment = cohort.segments.loc[cohort.segments["recording_id"] == rec.recording_id, "segment_id"]
        np.testing.assert_array_equal(cohort.waveform(int(segment.iloc[0]))[0], physical)


# ------------------------------------------------------------------ resume and command line


def test_an_interrupted_build_resumes_without_rereading_finished_records(
    mcmed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    real_read = mcmed_reader.read_record

    def counting_read(path: Path) -> object:
        reads.append(Path(path).name)
        if len(reads) == 3 and not resumed:
            raise KeyboardInterrupt  # Ctrl-C while the third record (third part) is being read
        return real_read(path)

    monkeypatch.setattr(mcmed_reader, "read_record", counting_read)
    resumed = False
    with pytest.raises(KeyboardInterrupt):
        build_mcmed_cohort(mcmed["root"], tmp_path / "store", workers=1, per_part=1, progress=False)
    assert not (tmp_path / "store").exists()
    first_run = list(reads)
    resumed, reads[:] = True, []
    store = build_mcmed_cohort(mcmed["root"], tmp_path / "store", workers=1, per_part=1, progress=False)
    assert first_run == ["1001_1", "1001_2", "2003_1"] and reads == ["2003_1"]  # parts 1-2 were kept
    monkeypatch.undo()
    fresh = build_mcmed_cohort(mcmed["root"], tmp_path / "fresh", workers=1, per_part=1, progress=False)
    assert open_cohort(store).content_hash == open_cohort(fresh).content_hash
    assert len(open_cohort(store).segments) == N_WINDOWS


def test_cli_builds_a_store_and_prints_its_summary(
    mcmed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "store"
    code = main(
        ["cohort", "mcmed", "--root", str(mcmed["root"]), "--out", str(out), "--quiet", "--workers", "1"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"3 patients, 5 visits, {len(RECORDS)} recordings, {N_WINDOWS} segments" in printed
    assert "9 lab results" in printed


def test_cli_reports_a_missing_root_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cohort", "mcmed", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "store")])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecglab: error: ") and "nowhere" in lines[0]
    assert not (tmp_path / "store").exists()
