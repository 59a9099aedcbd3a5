"""MIMIC-IV + MIMIC-IV-ECG reader on the real demo: the 659 demo ECGs as real 12-lead waveforms in the
MIMIC-IV-ECG layout, the real demo lab, patient and admission tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from wfdb_fixtures import demo_record_list, require_shared_data, write_mimic_ecg_tree

import ecglab.cohort.readers.mimic as mimic_reader
from ecglab.bench.cli import main
from ecglab.cohort.errors import CohortError
from ecglab.cohort.readers.mimic import STANDARD_LEADS, build_mimic_cohort
from ecglab.cohort.store import open_cohort


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(MIMIC-IV folder, MIMIC-IV-ECG folder, store) for the whole demo."""
    data = require_shared_data()
    root = tmp_path_factory.mktemp("mimic")
    write_mimic_ecg_tree(root / "ecg", demo_record_list())
    store = build_mimic_cohort(
        data / "mimic-iv-demo", root / "ecg", root / "store", workers=2, per_part=100, progress=False
    )
    return data / "mimic-iv-demo", root / "ecg", store


def _ecgs_with_lab_within(ecgs: pd.DataFrame, labs: pd.DataFrame, minutes: int) -> int:
    matched = pd.merge_asof(
        ecgs.sort_values("start_time")[["patient_id", "start_time"]],
        labs.sort_values("time")[["patient_id", "time"]],
        left_on="start_time",
        right_on="time",
        by="patient_id",
        direction="nearest",
        tolerance=pd.Timedelta(minutes=minutes),
    )
    return int(matched["time"].notna().sum())


def test_every_demo_ecg_is_one_recording_and_one_segment(demo: tuple[Path, Path, Path]) -> None:
    cohort = open_cohort(demo[2])
    assert len(cohort.recordings) == len(cohort.segments) == 659
    assert cohort.segments["patient_id"].nunique() == len(cohort.patients) == 92
    assert (cohort.segments["length"] == 5000).all() and (cohort.segments["fs"] == 500).all()
    assert cohort.meta["shards"][0]["leads"] == list(STANDARD_LEADS)
    assert cohort.meta["time_zone"] is None  # MIMIC times stay naive
    listed = demo_record_list()
    assert sorted(cohort.recordings["study_id"]) == sorted(listed["study_id"])
    first = cohort.recordings.set_index("study_id").loc["107143276"]
    assert first["start_time"] == pd.Timestamp("2180-07-23 08:44:24") and first["visit_id"] == "29079034"


def test_signals_equal_wfdb_physical_values_reordered_by_lead_name(demo: tuple[Path, Path, Path]) -> None:
    cohort = open_cohort(demo[2])
    for row in cohort.recordings.sample(5, random_state=0).itertuples():
        record = wfdb.rdrecord(str(demo[1] / row.source_path))
        columns = [record.sig_name.index(lead) for lead in STANDARD_LEADS]
        segment = int(
            cohort.segments.loc[cohort.segments["recording_id"] == row.recording_id, "segment_id"].iloc[0]
        )
        expected = record.p_signal[:, columns].T.astype(np.float32)
        np.testing.assert_array_equal(cohort.waveform(segment), expected)
    assert record.sig_name.index("aVF") < record.sig_name.index("aVL")  # the files' order differs from ours


def test_ecgs_with_a_lab_within_a_window_match_the_demo_counts(demo: tuple[Path, Path, Path]) -> None:
    cohort = open_cohort(demo[2])
    raw = pd.read_csv(demo[0] / "hosp" / "labevents.csv.gz", usecols=["subject_id", "charttime"], dtype=str)
    raw_times = pd.DataFrame(
        {
            "patient_id": raw["subject_id"],
            "time": pd.to_datetime(raw["charttime"], format="%Y-%m-%d %H:%M:%S"),
        }
    )
    counts = {w: _ecgs_with_lab_within(cohort.segments, raw_times, w) for w in (15, 30, 60, 120)}
    assert counts == {15: 134, 30: 196, 60: 287, 120: 402}  # any lab row, as the demo's documentation counts
    # the store keeps numeric results only: 3 ECGs have only non-numeric rows (e.g. "___") within 60 min
    assert _ecgs_with_lab_within(cohort.segments, cohort.labs, 60) == 284


def test_lab_rows_are_accounted_for(demo: tuple[Path, Path, Path]) -> None:
    cohort = open_cohort(demo[2])
    raw = pd.read_csv(demo[0] / "hosp" / "labevents.csv.gz", usecols=["subject_id"], dtype=str)
    ecg_subjects = set(demo_record_list()["subject_id"])
    rows_in = int(raw["subject_id"].isin(ecg_subjects).sum())
    quality = cohort.quality
    reasons = ("non-numeric value", "duplicate row", "unit other than the lab's main unit, no known factor")
    dropped = sum(quality.count("mimic labevents", reason) for reason in reasons)
    assert quality.count("mimic labevents", reasons[2]) == 3  # D-Dimer's 3 rows in ng/mL FEU (4 in ng/mL)
    every = sum(d["count"] for d in quality.to_dict()["dropped"] if d["stage"] == "mimic labevents")
    assert every == dropped
    assert rows_in == len(cohort.labs) + dropped
    assert set(cohort.labs["patient_id"]) <= ecg_subjects


def test_visit_of_an_ecg_is_the_admission_holding_its_time(demo: tuple[Path, Path, Path]) -> None:
    cohort = open_cohort(demo[2])
    rec = cohort.recordings.merge(cohort.visits, on=["visit_id", "patient_id"], how="left")
    with_visit = rec[rec["visit_id"].notna()]
    assert len(with_visit) > 0
    assert (
        (with_visit["start_time"] >= with_visit["arrival_time"])
        & (with_visit["start_time"] <= with_visit["dischtime"])
    ).all()
    assert cohort.extra["mimic"]["ecgs_without_visit"] == int(rec["visit_id"].isna().sum())


# ------------------------------------------------------------------ bad input


def _write_small_tree(root: Path, n: int = 6) -> pd.DataFrame:
    listed = demo_record_list().drop_duplicates("subject_id").head(n).reset_index(drop=True)
    write_mimic_ecg_tree(root, listed)
    return listed


def test_unusable_records_are_counted_by_reason(tmp_path: Path) -> None:
    data = require_shared_data()
    listed = _write_small_tree(tmp_path / "ecg", 9)
    paths = [tmp_path / "ecg" / p for p in listed["path"]]
    paths[0].with_suffix(".dat").unlink()  # header points at a missing .dat
    data_file = paths[1].with_suffix(".dat")
    data_file.write_bytes(data_file.read_bytes()[:-1000])  # truncated signal file
    header = paths[2].with_suffix(".hea")
    header.write_text(header.read_text().replace(" 12 500 5000", " 12 250 5000", 1))  # wrong sampling rate
    header = paths[3].with_suffix(".hea")
    header.write_text(header.read_text().replace(" V6", " V7"))  # no V6
    record = wfdb.rdrecord(str(paths[4]))
    record.d_signal = record.adc()
    record.d_signal[:, 2] = 17  # lead III flat: lead off
    record.p_signal = None
    record.wrsamp(write_dir=str(paths[4].parent), expanded=False)
    listed.loc[5, "ecg_time"] = "2180-13-40 25:00:00"
    header = paths[6].with_suffix(".hea")  # a format WFDB does not define (wfdb itself raises KeyError)
    header.write_text(header.read_text().replace(" 16 ", " 999 ", 1))
    header = paths[7].with_suffix(".hea")
    header.write_text(header.read_text().replace(" V6", " V5"))  # V5 twice
    pd.concat([listed, listed.tail(1)]).to_csv(tmp_path / "ecg" / "record_list.csv", index=False)

    store = build_mimic_cohort(
        data / "mimic-iv-demo", tmp_path / "ecg", tmp_path / "store", workers=1, progress=False
    )
    cohort = open_cohort(store)
    quality = cohort.quality
    stage = "mimic-iv-ecg records"
    assert quality.count(stage, "missing signal file") == 1
    assert quality.count(stage, "truncated signal file") == 1
    assert quality.count(stage, "sampling rate not 500 Hz") == 1
    assert quality.count(stage, "missing lead") == 1
    assert quality.count(stage, "a flat lead") == 1
    assert quality.count(stage, "unknown signal format") == 1
    assert quality.count(stage, "duplicate lead name") == 1
    assert quality.count("mimic-iv-ecg record_list", "unparseable time (ecg_time)") == 1
    assert quality.count("mimic-iv-ecg record_list", "record listed twice (first row kept)") == 1
    assert len(cohort.recordings) == 1
    assert cohort.recordings["study_id"].tolist() == [listed.loc[8, "study_id"]]


def test_missing_folders_and_tables_are_clear_errors(tmp_path: Path) -> None:
    data = require_shared_data()
    with pytest.raises(CohortError, match=r"record_list\.csv"):
        build_mimic_cohort(data / "mimic-iv-demo", tmp_path, tmp_path / "store", progress=False)
    with pytest.raises(CohortError, match="hosp"):
        build_mimic_cohort(tmp_path, tmp_path, tmp_path / "store", progress=False)


def test_an_interrupted_ingest_resumes_without_rereading_finished_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = require_shared_data()
    _write_small_tree(tmp_path / "ecg", 6)
    reads: list[str] = []
    real_read = mimic_reader.read_header

    def counting_read(path: Path) -> object:
        reads.append(Path(path).name)
        if len(reads) == 5 and not resumed:
            raise KeyboardInterrupt  # the user presses Ctrl-C while the third part is being read
        return real_read(path)

    monkeypatch.setattr(mimic_reader, "read_header", counting_read)
    resumed = False
    with pytest.raises(KeyboardInterrupt):
        build_mimic_cohort(
            data / "mimic-iv-demo",
            tmp_path / "ecg",
            tmp_path / "store",
            workers=1,
            per_part=2,
            progress=False,
        )
    assert not (tmp_path / "store").exists()
    first_run = list(reads)
    resumed, reads[:] = True, []
    store = build_mimic_cohort(
        data / "mimic-iv-demo", tmp_path / "ecg", tmp_path / "store", workers=1, per_part=2, progress=False
    )
    assert len(first_run) == 5 and len(reads) == 2  # parts 1-2 (4 records) were kept; only part 3 is redone
    monkeypatch.undo()
    fresh = build_mimic_cohort(
        data / "mimic-iv-demo", tmp_path / "ecg", tmp_path / "fresh", workers=2, per_part=2, progress=False
    )
    assert open_cohort(store).content_hash == open_cohort(fresh).content_hash


def test_cli_reads_a_subject_subset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = require_shared_data()
    listed = _write_small_tree(tmp_path / "ecg", 4)
    (tmp_path / "subjects.txt").write_text("\n".join(listed["subject_id"][:2]) + "\n")
    code = main(
        [
            "cohort",
            "mimic",
            "--mimic-iv",
            str(data / "mimic-iv-demo"),
            "--mimic-iv-ecg",
            str(tmp_path / "ecg"),
            "--subjects",
            str(tmp_path / "subjects.txt"),
            "--out",
            str(tmp_path / "store"),
            "--quiet",
            "--workers",
            "1",
        ]
    )
    assert code == 0
    assert "2 patients" in capsys.readouterr().out
    assert set(open_cohort(tmp_path / "store").patients["patient_id"]) == set(listed["subject_id"][:2])
