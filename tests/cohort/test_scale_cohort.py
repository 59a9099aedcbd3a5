"""Scale cohorts (``ecglab cohort synth --scale``): the real datasets' shape per fraction, a store that opens
and verifies, tiled waveforms that read back as ECG, one-line errors for bad fractions, and a task that
builds on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglab.bench.cli import main
from ecglab.cohort.errors import CohortError
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.cohort.synth.scale import SHAPES, build_scale_cohort, check_fraction

FRACTION = 0.002


@pytest.fixture(scope="module")
def mcmed(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    return open_cohort(
        build_scale_cohort(tmp_path_factory.mktemp("scale") / "mcmed", "mcmed", fraction=FRACTION)
    )


@pytest.fixture(scope="module")
def mimic(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    return open_cohort(
        build_scale_cohort(tmp_path_factory.mktemp("scale") / "mimic", "mimic", fraction=FRACTION)
    )


def near(value: float, expected: float, tolerance: float) -> bool:
    return abs(value - expected) <= tolerance * expected


def test_mcmed_has_the_shape_of_mcmed(mcmed: Cohort) -> None:
    shape, counts = SHAPES["mcmed"], mcmed.meta["row_counts"]
    assert counts["patients"] == round(shape.patients * FRACTION)
    assert counts["visits"] == round(shape.visits * FRACTION)
    assert near(counts["segments"], shape.segments * FRACTION, 0.1)
    assert mcmed.segments["visit_id"].nunique() == round(shape.waveform_visits * FRACTION)
    tests = mcmed.labs.groupby(["visit_id", "time"]).ngroups
    assert near(tests, shape.blood_tests * FRACTION, 0.05)
    assert 8 < counts["labs"] / tests < 25  # most tests measure a few labs, some many
    assert mcmed.labs["lab"].nunique() == 66
    abnormal = mcmed.labs.groupby("lab")["source_flag"].apply(lambda s: (s != "").mean())
    assert abnormal.between(0.03, 0.5).mean() > 0.9
    assert mcmed.source == "mc-med" and mcmed.segments["leads"].eq("II").all()


def test_mcmed_labs_lie_in_visits_around_recordings(mcmed: Cohort) -> None:
    labs = mcmed.labs.merge(mcmed.visits[["visit_id", "arrival_time", "departure_time"]], on="visit_id")
    assert (labs["time"] >= labs["arrival_time"]).all() and (labs["time"] <= labs["departure_time"]).all()
    tests = labs.drop_duplicates(["visit_id", "time"])
    seg = mcmed.segments[["visit_id", "start_time"]].sort_values("start_time")
    tests = tests.sort_values("time")
    nearest = pd.merge_asof(
        tests, seg, left_on="time", right_on="start_time", by="visit_id", direction="nearest"
    )
    close = (nearest["time"] - nearest["start_time"]).abs() <= pd.Timedelta(minutes=60)
    assert close.mean() > 0.5


def test_scale_store_opens_verifies_and_says_what_it_is(mcmed: Cohort, mimic: Cohort) -> None:
    for cohort, shape in ((mcmed, "mcmed"), (mimic, "mimic")):
        cohort.verify()
        assert cohort.scale["shape"] == shape and cohort.scale["fraction"] == FRACTION
        assert cohort.scale["planted_signal"] is False and "no ECG signal" in cohort.scale["note"]
        size = sum(f.stat().st_size for f in (cohort.path / "waveforms").iterdir())
        assert size < 32e6  # a tiled bank, not one copy per segment


def test_tiled_waveforms_read_back_as_ecg(mcmed: Cohort, mimic: Cohort) -> None:
    ids = mcmed.segments["segment_id"].to_numpy()[:: max(len(mcmed.segments) // 50, 1)]
    x = mcmed.waveforms(ids, leads=["II"])
    assert x.shape == (len(ids), 1, 5000) and np.isfinite(x).all()
    assert 0.05 < float(x.std()) < 1.0 and float(x.max()) > 0.4  # R peaks stand out of the noise
    y = mimic.waveforms(mimic.segments["segment_id"].to_numpy()[:20])
    assert y.shape == (20, 12, 5000)
    assert np.allclose(y[:, 2], y[:, 1] - y[:, 0], atol=0.02)  # III = II - I (Einthoven), within rounding


def test_mimic_has_the_shape_of_mimic(mimic: Cohort) -> None:
    shape, counts = SHAPES["mimic"], mimic.meta["row_counts"]
    assert counts["patients"] == round(shape.patients * FRACTION)
    assert counts["segments"] == counts["recordings"] == round(shape.segments * FRACTION)
    assert near(counts["labs"], shape.blood_tests * FRACTION, 0.1)
    assert mimic.labs["lab"].str.isdigit().all() and mimic.labs["lab"].nunique() == 53
    assert "mEq/L" in set(mimic.labs["unit"])
    assert counts["vitals"] > 0 and set(mimic.vitals["measure"]) == {"Weight", "Height", "BMI"}
    assert mimic.source == "mimic-iv" and mimic.segments["leads"].str.count(",").eq(11).all()


@pytest.mark.parametrize("bad", ["0", "-0.1", "1.5", "nan", "half"])
def test_bad_fractions_are_one_line_errors(bad: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["cohort", "synth", "--scale", "mcmed", "--fraction", bad, "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--fraction" in err and "\n" not in err
    assert not (tmp_path / "s").exists()
    with pytest.raises(CohortError):
        check_fraction(bad)


def test_fraction_needs_scale(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["cohort", "synth", "--fraction", "0.1", "--out", str(tmp_path / "s")]) == 2
    assert "--scale" in capsys.readouterr().err


def test_cli_writes_a_scale_store(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "s"
    assert main(["cohort", "synth", "--scale", "mimic", "--fraction", "0.0005", "--out", str(out)]) == 0
    assert open_cohort(out).scale == {**open_cohort(out).scale, "shape": "mimic", "fraction": 0.0005}
    assert "scale cohort" in capsys.readouterr().out


def test_a_real_task_builds_on_the_mcmed_shape(mcmed: Cohort) -> None:
    """The AnyECG-Lab task, with lower minimum counts per target for this tiny fraction."""
    from dataclasses import replace

    from ecglab.tasks.build import build_task
    from ecglab.tasks.registry import get_task

    spec = get_task("anyecg_lab_est_60min")
    panel = replace(
        spec.panel, min_positives=2, min_negatives=2, min_positive_patients=1, min_negative_patients=1
    )
    spec = replace(spec, panel=panel)
    data = build_task(spec, mcmed)
    assert len(data.anchors) > 100 and len(data.inputs) > 1000
    assert len(data.kept_targets) > 10
