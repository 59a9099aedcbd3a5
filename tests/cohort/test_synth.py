"""The synthetic cohort: deterministic, read back bit-exactly, shaped like an ED cohort, and carrying the
planted lab-to-ECG couplings while its null labs stay independent of the ECG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from ecglab.backbones.ecg_features import ecg_features
from ecglab.cohort.store import open_cohort
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort, simulate_patient
from ecglab.cohort.synth import labs as lab_model
from ecglab.cohort.synth.ecg import STANDARD_LEADS
from ecglab.tasks.catalogue import anyecg_lab_panel

TINY = SynthConfig(n_patients=4, seed=7, bout_minutes=(0.5, 1.0))


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_synthetic_cohort(tmp_path_factory.mktemp("synth") / "tiny", TINY, workers=1, progress=False)


def test_same_seed_gives_the_same_store_and_another_seed_does_not(tiny_store: Path, tmp_path: Path) -> None:
    again = build_synthetic_cohort(tmp_path / "again", TINY, workers=2, progress=False)
    other = build_synthetic_cohort(
        tmp_path / "other", SynthConfig(**{**TINY.__dict__, "seed": 8}), workers=1, progress=False
    )
    assert open_cohort(again).content_hash == open_cohort(tiny_store).content_hash
    assert open_cohort(other).content_hash != open_cohort(tiny_store).content_hash


def test_store_reads_back_the_simulated_samples_bit_exactly(tiny_store: Path) -> None:
    cohort = open_cohort(tiny_store)
    recordings = cohort.recordings
    length = round(TINY.segment_seconds * TINY.fs)
    checked = 0
    for index in range(TINY.n_patients):
        patient = simulate_patient(TINY, index)
        mine = recordings[recordings["patient_id"] == patient.row["patient_id"]].reset_index(drop=True)
        assert len(mine) == len(patient.recordings)
        for (visit_id, _start, digital), rec in zip(patient.recordings, mine.itertuples(), strict=True):
            assert rec.visit_id == visit_id
            segs = cohort.segments[cohort.segments["recording_id"] == rec.recording_id]
            assert len(segs) == digital.shape[0] // length
            for k, seg_id in enumerate(segs["segment_id"]):
                expected = digital[k * length : (k + 1) * length]
                np.testing.assert_array_equal(cohort.digital(seg_id), expected)
                np.testing.assert_array_equal(
                    cohort.waveform(seg_id), (expected.T / TINY.gain_per_mv).astype(np.float32)
                )
                checked += 1
    assert checked == len(cohort.segments) > 0


def test_cohort_has_ed_visits_segments_and_labs_in_shifted_time(tiny_store: Path) -> None:
    cohort = open_cohort(tiny_store)
    seg, labs, visits = cohort.segments, cohort.labs, cohort.visits
    assert (seg["length"] == 5000).all() and (seg["fs"] == 500.0).all() and (seg["leads"] == "II").all()
    assert visits["arrival_time"].dt.year.min() >= 2100  # shifted like MC-MED: years past 2262 occur too
    stay = visits.set_index("visit_id")
    for frame, column in ((seg, "start_time"), (labs, "time")):
        arrival = stay.loc[frame["visit_id"], "arrival_time"].to_numpy()
        departure = stay.loc[frame["visit_id"], "departure_time"].to_numpy()
        times = frame[column].to_numpy()
        assert (times >= arrival).all() and (times <= departure).all()
    assert labs["value"].notna().all() and set(labs["censored"]) == {""}
    flagged_high = labs["value"] > labs["ref_high"]
    assert (labs.loc[flagged_high, "source_flag"] == "H").all()
    meta = cohort.extra["synthetic"]
    assert set(meta["planted_labs"]) >= {"POTASSIUM", "CALCIUM", "HEMOGLOBIN"}
    assert set(meta["null_labs"]) & set(meta["planted_labs"]) == set()
    assert set(labs["lab"]) <= set(meta["labs"])


def test_synthetic_labs_are_in_the_anyecg_panel_with_the_same_units() -> None:
    panel = {t.lab: t.unit for t in anyecg_lab_panel()}
    for model in lab_model.LAB_MODELS:
        if model.lab == "HEMOGLOBIN":  # CardioLab's lab; AnyECG-Lab has hematocrit instead
            continue
        assert panel[model.lab] == model.unit
    assert panel[lab_model.HEMATOCRIT] == "%"


def test_twelve_leads_follow_einthoven(tmp_path: Path) -> None:
    config = SynthConfig(n_patients=1, seed=3, leads=STANDARD_LEADS, bout_minutes=(0.2, 0.2))
    cohort = open_cohort(build_synthetic_cohort(tmp_path / "twelve", config, workers=1, progress=False))
    assert cohort.meta["shards"][0]["leads"] == list(STANDARD_LEADS)
    wave = cohort.waveform(int(cohort.segments["segment_id"][0]))
    lead = {name: wave[i] for i, name in enumerate(STANDARD_LEADS)}
    lsb = 1 / config.gain_per_mv  # each lead is rounded to the store's resolution on its own
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=1.01 * lsb)
    np.testing.assert_allclose(lead["aVR"], -(lead["I"] + lead["II"]) / 2, atol=1.01 * lsb)
    assert np.std(lead["V1"] - lead["V6"]) > 0.05  # precordial leads are not copies of each other


def test_lab_values_drift_within_a_visit() -> None:
    rng = np.random.default_rng(0)
    k = lab_model.lab_index("POTASSIUM")
    near, far = [], []
    for _ in range(300):
        grid, paths = lab_model.visit_trajectories(rng, lab_model.patient_levels(rng), hours=4.0)
        values = lab_model.latent_at(grid, paths, np.array([1.0, 1.25, 2.0]))[k]
        near.append(abs(values[1] - values[0]))
        far.append(abs(values[2] - values[0]))
    assert np.mean(near) < 0.7 * np.mean(far)  # a draw 15 min away says more than one 60 min away


@pytest.fixture(scope="module")
def first_draw_features(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """One row per patient: the first blood draw and ECG features of the segment nearest to it (<= 30 min)."""
    config = SynthConfig(n_patients=320, seed=11, max_visits=1, extra_bouts=(0, 0), bout_minutes=(0.5, 1.0))
    cohort = open_cohort(
        build_synthetic_cohort(tmp_path_factory.mktemp("couplings") / "c", config, progress=False)
    )
    labs = cohort.labs
    first = labs[labs["time"] == labs.groupby("visit_id")["time"].transform("min")]
    wide = first.pivot_table(index=["visit_id", "time"], columns="lab", values="value").reset_index()
    seg = cohort.segments.assign(center=cohort.segments["start_time"] + pd.Timedelta(seconds=5))
    matched = (
        pd.merge_asof(
            wide.sort_values("time"),
            seg.sort_values("center")[["visit_id", "center", "segment_id"]],
            left_on="time",
            right_on="center",
            by="visit_id",
            direction="nearest",
            tolerance=pd.Timedelta(minutes=30),
        )
        .dropna(subset=["segment_id"])
        .reset_index(drop=True)
    )
    features = ecg_features(cohort.waveforms(matched["segment_id"].astype(np.int64).to_numpy())[:, 0], 500.0)
    assert len(matched) > 200
    return pd.concat([matched, features], axis=1)


def _spearman(frame: pd.DataFrame, lab: str, feature: str) -> tuple[float, float]:
    ok = frame[lab].notna() & frame[feature].notna()
    result = spearmanr(frame.loc[ok, lab], frame.loc[ok, feature])
    return float(result.statistic), float(result.pvalue)


@pytest.mark.parametrize(
    ("lab", "feature", "sign"),
    [
        ("POTASSIUM", "t_amp", +1),  # hyperkalaemia: peaked T
        ("CALCIUM", "qtc_ms", -1),  # hypercalcaemia: short QT
        ("HEMOGLOBIN", "hr_bpm", -1),  # anaemia: tachycardia
        ("HEMATOCRIT (HCT)", "hr_bpm", -1),
        ("MAGNESIUM", "qtc_ms", -1),  # hypomagnesaemia: long QT
    ],
)
def test_planted_couplings_are_in_the_ecg(
    first_draw_features: pd.DataFrame, lab: str, feature: str, sign: int
) -> None:
    rho, p = _spearman(first_draw_features, lab, feature)
    assert sign * rho > 0.15 and p < 1e-3, (lab, feature, rho, p)


def test_potassium_raises_t_amplitude_strongly(first_draw_features: pd.DataFrame) -> None:
    rho, _ = _spearman(first_draw_features, "POTASSIUM", "t_amp")
    assert rho > 0.5


@pytest.mark.parametrize("lab", lab_model.NULL_LABS)
def test_null_labs_are_independent_of_ecg_features(first_draw_features: pd.DataFrame, lab: str) -> None:
    features = ("hr_bpm", "t_amp", "qrs_ms", "qtc_ms", "r_amp")
    n_tests = len(lab_model.NULL_LABS) * len(features)
    for feature in features:
        rho, p = _spearman(first_draw_features, lab, feature)
        assert p > 0.05 / n_tests, (lab, feature, rho, p)  # Bonferroni over all null-lab tests


# ------------------------------------------------------------------------------------ resuming by parts
SMALL = SynthConfig(n_patients=4, seed=7, fs=100.0, bout_minutes=(0.2, 0.3))


def _counting(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> list[int]:
    """Count the patients simulated (in this process: workers=1); raise KeyboardInterrupt at ``fail_at``."""
    from ecglab.cohort.synth import cohort as synth_module

    seen: list[int] = []

    def counted(config: SynthConfig, index: int) -> object:
        if index == fail_at:
            raise KeyboardInterrupt
        seen.append(index)
        return simulate_patient(config, index)

    monkeypatch.setattr(synth_module, "simulate_patient", counted)
    return seen


def _meta_without_time(store: Path) -> dict:
    meta = dict(open_cohort(store).meta)
    meta.pop("created_at")
    return meta


def test_an_interrupted_synth_resumes_from_its_parts_and_writes_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = build_synthetic_cohort(tmp_path / "whole", SMALL, workers=1, progress=False, patients_per_part=1)
    target = tmp_path / "resumed"
    _counting(monkeypatch, fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        build_synthetic_cohort(target, SMALL, workers=1, progress=False, patients_per_part=1)
    assert not target.exists() and (tmp_path / ".resumed.partial").is_dir()
    seen = _counting(monkeypatch)
    build_synthetic_cohort(target, SMALL, workers=1, progress=False, patients_per_part=1)
    assert seen == [2, 3]  # patients 0 and 1 came from their finished parts
    assert _meta_without_time(target) == _meta_without_time(whole)
    assert not (tmp_path / ".resumed.partial").exists()


def test_a_rerun_with_other_arguments_starts_over_and_a_store_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "c"
    _counting(monkeypatch, fail_at=2)
    with pytest.raises(KeyboardInterrupt):
        build_synthetic_cohort(target, SMALL, workers=1, progress=False, patients_per_part=1)
    seen = _counting(monkeypatch)
    other = SynthConfig(**{**SMALL.__dict__, "seed": 8})
    build_synthetic_cohort(target, other, workers=1, progress=False, patients_per_part=1)
    assert seen == [0, 1, 2, 3] and open_cohort(target).meta["parameters"]["seed"] == 8
    from ecglab.cohort.errors import CohortError

    with pytest.raises(CohortError, match="already holds a cohort store"):
        build_synthetic_cohort(target, SMALL, workers=1, progress=False)
    assert open_cohort(target).meta["parameters"]["seed"] == 8
