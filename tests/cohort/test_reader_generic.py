"""Generic reader (a labs table + WFDB records listed in a records table) on real PhysioNet records: MIT-BIH
``100`` (MLII + V5, 360 Hz, format 212, baseline 1024) and CinC ``a103l`` (II, V, PLETH, 250 Hz) resampled to
500 Hz, and a 500-Hz lead-II record that is stored as it is."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import wfdb
from scipy.signal import resample_poly
from wfdb_fixtures import lead_ii_sources, require_shared_data

from ecglab.cohort.errors import CohortError
from ecglab.cohort.readers.generic import build_generic_cohort
from ecglab.cohort.store import open_cohort

RECORDS, SEGMENTS, LABS = "generic records", "generic segments", "generic labs"  # quality stages
WINDOW = 5000  # 10 s at 500 Hz
NATIVE_START = "2150-06-01 12:00:00"  # the 500-Hz record's header start

LABS_CSV = """\
patient_id,time,lab,value,visit_id,unit,ref_low,ref_high,source_flag
p1,2150-01-01 09:30:00,potassium,4.1,v1,mmol/L,3.5,5.1,
p1,2150-01-01 09:30:00,troponin,<0.01,v1,ng/mL,,0.04,
p1,2150-01-01 09:30:00,glucose,>450,v1,mg/dL,70,99,H
p1,2150-01-01 09:30:00,hcg,Negative,v1,,,,
p2,2150-02-02 03:00:00,sodium,140,,mmol/L,135,145,
p2,2150-02-30 03:00:00,sodium,141,,mmol/L,135,145,
p2,02/02/2150 03:00,sodium,Negative,,mmol/L,135,145,
p3,2150-03-03 00:10:00,hemoglobin,12.5,v3,g/dL,see note,17,L
"""
# 100 and a103l have no date in their headers: their start comes from the table; the 500-Hz record's is
# listed too, and the table wins over its header
RECORDS_CSV = """\
record,patient_id,visit_id,start_time
mitbih/100,p1,v1,2150-01-01 10:00:00
cinc/a103l,p2,,2150-02-02 03:04:05
native/ii500,p3,v3,2150-03-03 00:00:00
"""
# record -> (source fs, stored samples at 500 Hz, leads, table start)
EXPECTED = {
    "mitbih/100": (360.0, 902_778, "MLII,V5", "2150-01-01 10:00:00"),  # ceil(650000 * 25 / 18)
    "cinc/a103l": (250.0, 165_000, "II,V,PLETH", "2150-02-02 03:04:05"),
    "native/ii500": (500.0, 37_000, "II", "2150-03-03 00:00:00"),
}


def _copy_sample(name: str, target: Path) -> None:
    """A record of ../shared/data/wfdb-samples copied as ``target`` (header and signal file as they are)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for file in (require_shared_data() / "wfdb-samples").glob(f"{name}.*"):
        shutil.copy(file, target.parent / file.name)


def _write_record(
    folder: Path, name: str, signal_mv: np.ndarray, *, fs: float = 500, start: str | None = NATIVE_START
) -> Path:
    """A one-lead (II) format-16 record at gain 200/mV and baseline 100; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV"],
        sig_name=["II"],
        p_signal=signal_mv[:, None],
        fmt=["16"],
        adc_gain=[200.0],
        baseline=[100],
        base_datetime=None if start is None else pd.Timestamp(start).to_pydatetime(),
        write_dir=str(folder),
    )
    return folder / name


def _write_tree(root: Path) -> Path:
    """The three records under ``root/wfdb``; returns that folder."""
    wfdb_dir = root / "wfdb"
    _copy_sample("100", wfdb_dir / "mitbih" / "100")
    _copy_sample("a103l", wfdb_dir / "cinc" / "a103l")
    _write_record(wfdb_dir / "native", "ii500", lead_ii_sources()["100"][:37_000])  # 74 s
    return wfdb_dir


def _build(root: Path, labs: str, records: str, **options: Any) -> Any:
    (root / "labs.csv").write_text(labs)
    (root / "records.csv").write_text(records)
    store = build_generic_cohort(
        root / "labs.csv", root / "records.csv", root / "wfdb", root / "store", progress=False, **options
    )
    return open_cohort(store)


@pytest.fixture(scope="module")
def generic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_shared_data()
    root = tmp_path_factory.mktemp("generic")
    wfdb_dir = _write_tree(root)
    return {"wfdb": wfdb_dir, "cohort": _build(root, LABS_CSV, RECORDS_CSV, workers=1)}


def _recording(cohort: Any, record: str) -> Any:
    return cohort.recordings.set_index("source_path").loc[record]


def _segment_ids(cohort: Any, recording_id: int) -> np.ndarray:
    mine = cohort.segments[cohort.segments["recording_id"] == recording_id].sort_values("offset")
    return mine["segment_id"].to_numpy()


def _stored_digital(cohort: Any, record: str) -> np.ndarray:
    """The stored samples of every indexed window of ``record``, concatenated (samples x leads)."""
    ids = _segment_ids(cohort, int(_recording(cohort, record)["recording_id"]))
    return np.concatenate([cohort.digital(int(i)) for i in ids])


def _resample(values: np.ndarray, fs_in: float) -> np.ndarray:
    ratio = Fraction(500, int(fs_in))  # 25/18 for 360 Hz, 2/1 for 250 Hz
    return resample_poly(values.astype(np.float64), ratio.numerator, ratio.denominator, axis=0)


# ------------------------------------------------------------------ waveforms


def test_records_are_resampled_to_500hz_and_cut_into_whole_10s_windows(generic: dict[str, Any]) -> None:
    cohort = generic["cohort"]
    assert len(cohort.recordings) == len(EXPECTED)
    for record, (source_fs, samples, leads, start) in EXPECTED.items():
        rec = _recording(cohort, record)
        assert (rec["source_fs"], rec["fs"], rec["leads"]) == (source_fs, 500.0, leads)
        assert rec["length"] == samples and rec["start_time"] == pd.Timestamp(start)
        mine = cohort.segments[cohort.segments["recording_id"] == rec["recording_id"]].sort_values("offset")
        k = np.arange(samples // WINDOW)  # 180, 33 and 7 windows
        assert mine["offset"].tolist() == (rec["offset"] + k * WINDOW).tolist()
        assert mine["start_time"].tolist() == [pd.Timestamp(start) + pd.Timedelta(seconds=10 * i) for i in k]
        assert (mine["length"] == WINDOW).all()
    assert cohort.meta["time_zone"] is None  # naive times, as given
    assert cohort.quality.count(SEGMENTS, "partial window at recording end") == 2  # 100 and ii500
    visits = cohort.recordings.set_index("source_path")["visit_id"]
    assert visits["mitbih/100"] == "v1" and visits["native/ii500"] == "v3"
    assert pd.isna(visits["cinc/a103l"])  # a blank visit_id is none


def test_a_resampled_record_is_resample_poly_of_its_digital_samples_rounded(generic: dict[str, Any]) -> None:
    cohort = generic["cohort"]
    path = str(generic["wfdb"] / "cinc" / "a103l")
    original = wfdb.rdrecord(path)
    digital = wfdb.rdrecord(path, physical=False).d_signal
    expected = np.round(resample_poly(digital.astype(np.float64), 2, 1, axis=0))  # 250 -> 500 Hz
    stored = _stored_digital(cohort, "cinc/a103l")
    np.testing.assert_array_equal(stored, expected[: len(stored)])
    rec = _recording(cohort, "cinc/a103l")
    assert rec["gain"].tolist() == original.adc_gain  # the record's own digital units are kept
    assert rec["baseline"].tolist() == original.baseline == [0, 0, 0]
    # in mV, within half a digital unit of the original resampled the same way
    reference = resample_poly(original.p_signal, 2, 1, axis=0)[: len(stored)]
    gain = np.array(original.adc_gain)
    assert (np.abs(stored / gain - reference) <= 0.5 / gain + 1e-12).all()


def test_a_resampled_record_stays_close_to_the_original_in_mv(generic: dict[str, Any]) -> None:
    cohort = generic["cohort"]
    for record, ecg_leads in (("mitbih/100", ["MLII", "V5"]), ("cinc/a103l", ["II", "V"])):
        original = wfdb.rdrecord(str(generic["wfdb"] / record), channel_names=ecg_leads)
        reference = _resample(original.p_signal, original.fs)  # the original in mV, resampled the same way
        ids = _segment_ids(cohort, int(_recording(cohort, record)["recording_id"]))
        stored = cohort.waveforms(ids, leads=ecg_leads)  # windows x leads x samples, mV
        for window, samples in enumerate(stored):
            for lead, values in enumerate(samples):
                expected = reference[window * WINDOW : (window + 1) * WINDOW, lead]
                assert np.corrcoef(values, expected)[0, 1] > 0.99, (record, window, ecg_leads[lead])


def test_resampling_leaves_a_nonzero_baseline_out_of_the_filter(generic: dict[str, Any]) -> None:
    cohort = generic["cohort"]
    original = wfdb.rdrecord(str(generic["wfdb"] / "mitbih" / "100"))
    digital = wfdb.rdrecord(str(generic["wfdb"] / "mitbih" / "100"), physical=False).d_signal
    baseline = np.array(original.baseline)  # [1024, 1024]
    expected = np.round(_resample(digital - baseline, 360)) + baseline
    stored = _stored_digital(cohort, "mitbih/100")
    in_mv = (stored - baseline) / 200.0
    reference = _resample(original.p_signal, 360)[: len(stored)]
    assert np.abs(in_mv - reference).max() <= 0.5 / 200 + 1e-9  # rounding to the 5-uV grid, nothing more
    np.testing.assert_array_equal(stored, expected[: len(stored)])


def test_a_500hz_record_is_stored_bit_exactly(generic: dict[str, Any]) -> None:
    cohort = generic["cohort"]
    path = str(generic["wfdb"] / "native" / "ii500")
    digital = wfdb.rdrecord(path, physical=False).d_signal
    physical = wfdb.rdrecord(path).p_signal
    rec = _recording(cohort, "native/ii500")
    assert rec["gain"].tolist() == [200.0] and rec["baseline"].tolist() == [100.0]
    ids = _segment_ids(cohort, int(rec["recording_id"]))
    stored = _stored_digital(cohort, "native/ii500")
    assert stored.dtype == np.int16
    np.testing.assert_array_equal(stored, digital[: len(stored)])
    expected = physical[: len(ids) * WINDOW, 0].reshape(len(ids), 1, WINDOW).astype(np.float32)
    np.testing.assert_array_equal(cohort.waveforms(ids), expected)


# ------------------------------------------------------------------ tables


def test_lab_values_are_parsed_and_every_dropped_row_counted(generic: dict[str, Any]) -> None:
    cohort = generic["cohort"]
    labs = cohort.labs.set_index("lab")
    assert sorted(labs.index) == ["glucose", "hemoglobin", "potassium", "sodium", "troponin"]
    assert labs["value"].to_dict() == {
        "potassium": 4.1,
        "troponin": 0.01,
        "glucose": 450.0,
        "sodium": 140.0,
        "hemoglobin": 12.5,
    }
    assert labs["censored"].to_dict() == {
        "potassium": "",
        "troponin": "<",
        "glucose": ">",
        "sodium": "",
        "hemoglobin": "",
    }
    assert labs.loc["potassium", "time"] == pd.Timestamp("2150-01-01 09:30:00")
    assert (labs.loc["glucose", "unit"], labs.loc["glucose", "source_flag"]) == ("mg/dL", "H")
    assert np.isnan(labs.loc["troponin", "ref_low"]) and labs.loc["troponin", "ref_high"] == 0.04
    assert np.isnan(labs.loc["hemoglobin", "ref_low"])  # "see note": set to missing, row kept
    assert pd.isna(labs.loc["sodium", "visit_id"]) and labs.loc["hemoglobin", "visit_id"] == "v3"
    quality = cohort.quality
    assert quality.count(LABS, "non-numeric value") == 1  # "Negative"; the other one has a bad time
    assert quality.count(LABS, "unparseable time (time)") == 2  # 30 February, and 02/02/2150 03:00
    assert quality.count(LABS, "non-numeric ref_low (set to missing, row kept)") == 1
    assert len(cohort.labs) + 1 + 2 == len(LABS_CSV.splitlines()) - 1  # every input row accounted for


def test_patients_and_visits_come_from_the_labs_and_records(generic: dict[str, Any]) -> None:
    cohort = generic["cohort"]
    assert cohort.patients.to_dict("list") == {"patient_id": ["p1", "p2", "p3"], "sex": ["", "", ""]}
    visits = cohort.visits.set_index("visit_id")
    assert sorted(visits.index) == ["v1", "v3"]
    assert visits.loc["v1", "arrival_time"] == pd.Timestamp("2150-01-01 09:30:00")  # its earliest lab
    assert visits.loc["v3", "patient_id"] == "p3"


def test_optional_columns_take_their_documented_defaults(tmp_path: Path) -> None:
    """Labs with only the required columns: visit_id missing, unit "", ref_low/ref_high NaN, source_flag "".
    Records without start_time: the start is the header's; a record without a date in its header has no
    start time anywhere and is counted. No patients table: every patient with sex ""."""
    require_shared_data()
    _copy_sample("100", tmp_path / "wfdb" / "mitbih" / "100")  # no base date in its header
    _write_record(tmp_path / "wfdb" / "native", "ii500", lead_ii_sources()["100"][:12_000])
    labs = "patient_id,time,lab,value\np3,2150-06-01 12:30:00,potassium,<3.0\n"
    records = "record,patient_id,visit_id\nnative/ii500,p3,\nmitbih/100,p1,\n"
    cohort = _build(tmp_path, labs, records, workers=1)
    lab = cohort.labs.iloc[0]
    assert (lab["value"], lab["censored"], lab["unit"], lab["source_flag"]) == (3.0, "<", "", "")
    assert pd.isna(lab["visit_id"]) and np.isnan(lab["ref_low"]) and np.isnan(lab["ref_high"])
    assert cohort.recordings["source_path"].tolist() == ["native/ii500"]
    rec = cohort.recordings.iloc[0]
    assert rec["start_time"] == pd.Timestamp(NATIVE_START) and pd.isna(rec["visit_id"])
    assert cohort.quality.count(RECORDS, "no start time (records table or header)") == 1
    assert cohort.patients.to_dict("list") == {"patient_id": ["p1", "p3"], "sex": ["", ""]}
    assert len(cohort.visits) == 0


def test_a_records_table_without_visit_id_is_read(tmp_path: Path) -> None:
    require_shared_data()
    _write_record(tmp_path / "wfdb", "ii500", lead_ii_sources()["100"][:12_000])
    cohort = _build(tmp_path, "patient_id,time,lab,value\n", "record,patient_id\nii500,p3\n", workers=1)
    assert cohort.recordings["source_path"].tolist() == ["ii500"]
    assert cohort.recordings["visit_id"].isna().all()


def test_a_blank_start_time_falls_back_to_the_header(tmp_path: Path) -> None:
    require_shared_data()
    for name in ("listed", "unlisted"):
        _write_record(tmp_path / "wfdb", name, lead_ii_sources()["100"][:12_000])
    records = "record,patient_id,visit_id,start_time\nlisted,p1,,2150-01-01 10:00:00\nunlisted,p2,,\n"
    cohort = _build(tmp_path, "patient_id,time,lab,value\n", records, workers=1)
    starts = cohort.recordings.set_index("source_path")["start_time"].to_dict()
    assert starts == {"listed": pd.Timestamp("2150-01-01 10:00:00"), "unlisted": pd.Timestamp(NATIVE_START)}


# ------------------------------------------------------------------ bad input


def test_a_missing_required_column_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "wfdb").mkdir()
    with pytest.raises(
        CohortError,
        match=r"labs\.csv: required column\(s\) value missing \(the labs table takes patient_id, time",
    ):
        _build(tmp_path, "patient_id,time,lab\n", "record,patient_id\n")
    with pytest.raises(CohortError, match=r"records\.csv: required column\(s\) patient_id missing"):
        _build(tmp_path, "patient_id,time,lab,value\n", "record,visit_id\n")
    assert not (tmp_path / "store").exists()


def test_unusable_records_and_windows_are_counted_by_reason(tmp_path: Path) -> None:
    require_shared_data()
    signal = lead_ii_sources()["a103l"][:20_000]  # 40 s at 500 Hz
    folder = tmp_path / "wfdb"
    _write_record(folder, "good", signal)
    _write_record(folder, "no_dat", signal).with_suffix(".dat").unlink()
    truncated = _write_record(folder, "truncated", signal).with_suffix(".dat")
    truncated.write_bytes(truncated.read_bytes()[:-1000])
    gaps = signal[::2].copy()  # 250 Hz, and a run of invalid samples: cannot be resampled
    gaps[3_000:3_010] = np.nan
    _write_record(folder, "gaps_250hz", gaps, fs=250)
    damaged = signal.copy()
    damaged[5_100:5_110] = np.nan  # WFDB invalid samples in the 2nd window
    damaged[10_000:16_000] = 0.5  # 12 s of one value: the 3rd window is flat, the 4th is not
    _write_record(folder, "damaged", damaged)
    names = ["good", "nowhere", "no_dat", "truncated", "gaps_250hz", "damaged"]
    records = "record,patient_id,visit_id\n" + "".join(f"{name},p1,\n" for name in names)
    cohort = _build(tmp_path, "patient_id,time,lab,value\n", records, workers=1)
    quality = cohort.quality
    assert quality.count(RECORDS, "missing header file") == 1  # the WfdbError reason, as read_record gives it
    assert quality.count(RECORDS, "missing signal file") == 1
    assert quality.count(RECORDS, "truncated signal file") == 1
    assert quality.count(RECORDS, "invalid samples in a record that needs resampling") == 1
    assert quality.count(SEGMENTS, "window with invalid (NaN) samples") == 1
    assert quality.count(SEGMENTS, "window with a flat lead") == 1
    assert quality.total == 6
    assert sorted(cohort.recordings["source_path"]) == ["damaged", "good"]
    damaged_rec = _recording(cohort, "damaged")
    offsets = cohort.segments.loc[cohort.segments["recording_id"] == damaged_rec["recording_id"], "offset"]
    assert sorted(offsets - damaged_rec["offset"]) == [0, 15_000]


def test_a_record_shorter_than_one_window_is_counted_not_fatal(tmp_path: Path) -> None:
    require_shared_data()
    _write_record(tmp_path / "wfdb", "good", lead_ii_sources()["100"][:10_000])
    _write_record(tmp_path / "wfdb", "short", lead_ii_sources()["100"][:3_000])  # 6 s
    records = "record,patient_id,visit_id\ngood,p1,\nshort,p1,\n"
    cohort = _build(tmp_path, "patient_id,time,lab,value\n", records, workers=1)
    assert cohort.quality.count(RECORDS, "no usable window") == 1
    assert cohort.recordings["source_path"].tolist() == ["good"]


def _write_format_61(folder: Path, name: str, digital: np.ndarray, fs: float) -> None:
    """A one-lead record in WFDB format 61 (16-bit big-endian; read by wfdb.rdrecord, not the fast path)."""
    folder.mkdir(parents=True, exist_ok=True)
    digital.astype(">i2").tofile(folder / f"{name}.dat")
    (folder / f"{name}.hea").write_text(
        f"{name} 1 {fs:g} {len(digital)} 12:00:00 01/06/2150\n{name}.dat 61 200/mV 16 0 0 0 0 II\n"
    )


def test_a_zero_sample_is_not_invalid_in_formats_read_by_wfdb(tmp_path: Path) -> None:
    require_shared_data()
    mv = lead_ii_sources()["a103l"][:20_000:2]  # 40 s at 250 Hz
    digital = np.round(mv * 200).astype(np.int64)
    assert (digital == 0).any()  # a real ECG crosses zero
    _write_format_61(tmp_path / "wfdb", "big_endian", digital, 250)
    assert (
        wfdb.rdrecord(str(tmp_path / "wfdb" / "big_endian"), physical=False).d_signal[:, 0] == digital
    ).all()
    records = "record,patient_id,visit_id\nbig_endian,p1,\n"
    cohort = _build(tmp_path, "patient_id,time,lab,value\n", records, workers=1)
    assert cohort.quality.count(RECORDS, "invalid samples in a record that needs resampling") == 0
    stored = _stored_digital(cohort, "big_endian")[:, 0]
    np.testing.assert_array_equal(stored, np.round(resample_poly(digital.astype(np.float64), 2, 1)))


def test_a_record_listed_twice_is_read_once_or_not_at_all_when_its_rows_disagree(tmp_path: Path) -> None:
    signal = lead_ii_sources()["100"][:5000]
    for name in ("same", "clash", "other"):
        _write_record(tmp_path / "wfdb", name, signal)
    records = "record,patient_id\nsame,p1\nclash,p1\nsame,p1\nclash,p2\nother,p3\n"
    cohort = _build(tmp_path, "patient_id,time,lab,value\n", records, workers=1)
    stage = "generic records table"
    assert cohort.quality.count(stage, "record listed twice (first row kept)") == 1
    reason = "record listed twice with different patient_id, visit_id or start_time (all its rows dropped)"
    assert cohort.quality.count(stage, reason) == 2
    assert sorted(cohort.recordings["source_path"]) == ["other", "same"]
