"""``ecglab predict``: a tiny trained run scores real and written WFDB records at their own rates, matches
leads by name case-insensitively, pools consecutive windows by their mean, and refuses records and runs it
cannot score with one-line errors."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from scipy.signal import resample_poly
from tiny_task_specs import tiny_task_specs
from wfdb_fixtures import require_shared_data

from ecglab.bench.cli import main
from ecglab.bench.config import RunConfig
from ecglab.bench.engine import run_pairing
from ecglab.bench.engine.distributed import single_process
from ecglab.bench.engine.predict_records import (
    PredictError,
    load_predictor,
    record_windows,
    score_record,
    window_outputs,
)
from ecglab.bench.engine.prepare import prepare
from ecglab.bench.run_folder import read_record
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort

TASKS = tiny_task_specs("name: predict_closest_15min")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    root = tmp_path_factory.mktemp("predict")
    store = build_synthetic_cohort(
        root / "cohort",
        SynthConfig(n_patients=48, seed=5, bout_minutes=(0.5, 1.0)),
        workers=1,
        progress=False,
    )
    spec = root / "tasks.yaml"
    spec.write_text(TASKS)
    return RunConfig(
        backbone="ecgfounder",
        task="predict_closest_15min",
        cohort=str(store),
        preset="tiny",
        epochs=1,
        batch_size=64,
        n_boot=20,
        task_specs=(str(spec),),
    )


@pytest.fixture(scope="module")
def run_dir(base: RunConfig) -> Path:
    return run_pairing(base, Path(base.cohort).parent / "runs", progress=False, track=False)


@pytest.fixture(scope="module")
def regression_dir(base: RunConfig) -> Path:
    config = replace(base, objective="gaussian_nll")
    return run_pairing(config, Path(base.cohort).parent / "runs", progress=False, track=False)


def write_record(folder: Path, name: str, signal: np.ndarray, fs: float, leads: list[str]) -> Path:
    """A format-16 WFDB record (samples x leads, mV) written with wfdb.wrsamp; its path without .hea."""
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV"] * len(leads),
        sig_name=leads,
        p_signal=signal,
        fmt=["16"] * len(leads),
        adc_gain=[200.0] * len(leads),
        baseline=[0] * len(leads),
        write_dir=str(folder),
    )
    return folder / name


def lead_ii_at(fs_out: int, seconds: float) -> np.ndarray:
    """``seconds`` of PTB s0010_re's lead ii (1000 Hz) resampled to ``fs_out``, on the 5-uV grid."""
    record = wfdb.rdrecord(str(require_shared_data() / "wfdb-samples" / "s0010_re"), channel_names=["ii"])
    signal = resample_poly(record.p_signal[:, 0], fs_out, 1000)[: round(seconds * fs_out)]
    return np.round(signal * 200)[:, None] / 200


def test_real_records_are_scored_at_their_own_rates(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    data = require_shared_data() / "wfdb-samples"
    assert main(["predict", str(run_dir), str(data / "s0010_re.hea"), str(data / "a103l"), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    ptb, cinc = (json.loads(line) for line in lines)
    assert ptb["fs"] == 1000 and ptb["windows"] == 38400 // 5000  # lowercase "ii", 38.4 s: 7 windows
    assert cinc["fs"] == 250 and 1 <= cinc["windows"] <= 82500 // 1250  # lead "II"; invalid windows skipped
    predictor = load_predictor(run_dir)
    assert list(ptb["targets"]) == list(predictor.targets)
    for row in ptb["targets"].values():
        assert 0.0 < row["probability"] < 1.0
        assert row["flag"] == (row["threshold"] is not None and row["probability"] >= row["threshold"])
    assert ptb["targets"] != cinc["targets"]  # different records, different scores


def test_text_output_is_a_table_per_record(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    record = write_record(Path(run_dir).parent / "text", "r", lead_ii_at(500, 5), 500, ["II"])
    assert main(["predict", str(run_dir), str(record)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("(500 Hz, 1 window(s) pooled):")
    assert out[1].split() == ["target", "probability", "threshold", "flag"]
    assert len(out) == 2 + len(load_predictor(run_dir).targets)


def test_lowercase_leads_at_another_rate_match_the_same_signal(run_dir: Path, tmp_path: Path) -> None:
    predictor = load_predictor(run_dir)
    ii = lead_ii_at(360, 10)
    two = np.hstack([-ii, ii])  # lead ii is the second column, behind another lead "i"
    at_360 = score_record(predictor, write_record(tmp_path, "low", two, 360, ["i", "ii"]))
    at_500 = score_record(predictor, write_record(tmp_path, "up", lead_ii_at(500, 10), 500, ["II"]))
    assert at_360.windows == at_500.windows == 2
    # the same 10 s of ECG at two rates, resampled to the task's 100 Hz: close, not bit-equal
    np.testing.assert_allclose(at_360.probabilities, at_500.probabilities, atol=0.05)


def test_pooling_is_the_mean_over_consecutive_windows(run_dir: Path, tmp_path: Path) -> None:
    predictor = load_predictor(run_dir)
    signal = lead_ii_at(500, 12)  # two whole 5-s windows and 2 s left out
    whole = score_record(predictor, write_record(tmp_path, "whole", signal, 500, ["II"]))
    halves = [
        score_record(
            predictor, write_record(tmp_path, f"half{k}", signal[k * 2500 : (k + 1) * 2500], 500, ["II"])
        )
        for k in range(2)
    ]
    assert whole.windows == 2 and all(h.windows == 1 for h in halves)
    mean = np.mean([h.probabilities for h in halves], axis=0)
    np.testing.assert_allclose(whole.probabilities, mean, rtol=1e-5)
    assert not np.allclose(halves[0].probabilities, halves[1].probabilities)  # the mean is not trivial
    _, windows = record_windows(tmp_path / "whole", predictor)
    np.testing.assert_allclose(
        window_outputs(predictor, windows).mean(axis=0), whole.probabilities, rtol=1e-6
    )


def test_a_record_without_the_lead_or_too_short_is_one_line_exit_2(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    signal = lead_ii_at(500, 6)
    no_ii = write_record(tmp_path, "v1", signal, 500, ["V1"])
    assert main(["predict", str(run_dir), str(no_ii)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ecglab: error: ") and "lead(s) II" in err and "V1" in err
    short = write_record(tmp_path, "short", signal[:2000], 500, ["ii"])
    assert main(["predict", str(run_dir), str(short)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shorter than the task's window of 5 s" in err
    assert main(["predict", str(run_dir), str(tmp_path / "absent")]) == 2  # the header readers' own error
    assert capsys.readouterr().err.startswith("ecglab: error: ")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"backbone": "ecg_features"}, "scikit-learn baseline"), ({"fusion": True}, "tabular side inputs")],
)
def test_baseline_and_fusion_runs_are_refused(
    run_dir: Path, tmp_path: Path, changes: dict, reason: str
) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    record = json.loads((copy / "run.json").read_text())
    record["config"].update(changes)
    (copy / "run.json").write_text(json.dumps(record))
    with pytest.raises(PredictError, match=reason):
        load_predictor(copy)


@pytest.mark.parametrize("which", ["run_dir", "regression_dir"])
def test_a_stored_crop_scores_as_the_run_evaluated_it(which: str, request: pytest.FixtureRequest) -> None:
    """The run's own val scores (predictions.parquet) of anchors scored from one crop are what predict gives
    for that crop written as a WFDB record at the store's rate: the same model, plan and (for a regression
    run) P(abnormal) under the pooled prediction."""
    folder = request.getfixturevalue(which)
    config = read_record(folder).config
    cohort, task, _ = prepare(config, folder.parent, single_process())
    predictor = load_predictor(folder)
    fs = float(cohort.segments["fs"].iloc[0])
    pairs = task.eval_inputs("val")
    single = pairs.groupby("anchor_id").filter(lambda g: len(g) == 1).head(3)
    assert len(single) == 3
    scored = pd.read_parquet(folder / "predictions.parquet").set_index(["anchor_id", "target"])["score"]
    for anchor, segment in zip(single["anchor_id"], single["segment_id"], strict=True):
        crop = cohort.waveforms([segment], leads=["II"], start=[0], length=round(5 * fs))[0, 0]
        path = folder.parent / f"crop_{which}_{anchor}"
        wfdb.wrsamp(
            path.name,
            fs=fs,
            units=["mV"],
            sig_name=["II"],
            p_signal=crop[:, None].astype(np.float64),
            fmt=["32"],
            adc_gain=[1e6],
            baseline=[0],
            write_dir=str(path.parent),
        )
        got = score_record(predictor, path)
        expected = [scored[(anchor, target)] for target in predictor.targets]
        np.testing.assert_allclose(got.probabilities, expected, atol=1e-4)


def test_a_record_in_microvolts_is_read_in_millivolts(run_dir: Path, tmp_path: Path) -> None:
    """Without z-scoring (every built-in backbone z-scores, which hides the scale), the windows are in mV."""
    predictor = replace(load_predictor(run_dir), normalisation="none")
    signal = lead_ii_at(500, 5)
    folder = tmp_path / "uv"
    folder.mkdir()
    wfdb.wrsamp(
        "uv",
        fs=500,
        units=["uV"],
        sig_name=["II"],
        p_signal=signal * 1000,
        fmt=["16"],
        adc_gain=[0.2],
        baseline=[0],
        write_dir=str(folder),
    )
    _, in_uv = record_windows(folder / "uv", predictor)
    _, in_mv = record_windows(write_record(tmp_path, "mv", signal, 500, ["II"]), predictor)
    assert np.abs(in_mv).max() > 0.2  # an ECG in mV, not in uV
    np.testing.assert_allclose(in_uv, in_mv, rtol=1e-5, atol=1e-6)
