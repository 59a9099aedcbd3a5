"""Synthetic cohort variants for external validation: MIMIC-IV lab coding, population shifts and another
sampling rate, recorded in cohort.json, and defaults that leave the store byte-identical."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglab.bench.cli import main
from ecglab.cohort.store import open_cohort
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort, simulate_patient
from ecglab.cohort.synth.variants import MIMIC_CODES, SHIFTS
from ecglab.tasks.catalogue import anyecg_lab_panel
from ecglab.tasks.panels import resolve_panel
from ecglab.tasks.spec import PanelSpec

SMALL = SynthConfig(n_patients=3, seed=2, fs=100.0, bout_minutes=(0.2, 0.3))
# the content hash of SynthConfig(n_patients=4, seed=7, bout_minutes=(0.5, 1.0)) before the variants existed
PINNED = (
    "4c8d6beb758dd87341fd966c0988e9d0e96bebb03622ab4b575dee1cd523900c",
    SynthConfig(4, 7, bout_minutes=(0.5, 1.0)),
)


def _build(folder: Path, config: SynthConfig) -> Path:
    return build_synthetic_cohort(folder, config, workers=1, progress=False)


def test_defaults_leave_the_store_as_it_was(tmp_path: Path) -> None:
    path = _build(tmp_path / "plain", PINNED[1])
    assert open_cohort(path).content_hash == PINNED[0]
    meta = json.loads((path / "cohort.json").read_text())
    assert "lab_coding" not in meta["extra"] and "shift" not in meta["extra"]["synthetic"]
    assert "lab_coding" not in PINNED[1].parameters() and "shift" not in PINNED[1].parameters()


def test_mimic_coding_writes_the_same_values_under_itemids_and_mimic_units(tmp_path: Path) -> None:
    plain = open_cohort(_build(tmp_path / "plain", SMALL))
    coded = open_cohort(
        _build(tmp_path / "mimic", SynthConfig(**{**SMALL.__dict__, "lab_coding": "mimic-iv"}))
    )
    assert coded.lab_coding == "mimic-iv" and plain.lab_coding == "mcmed"
    assert coded.name.endswith("-mimic-iv")
    names = plain.labs["lab"].to_numpy()
    assert (coded.labs["lab"].to_numpy() == [MIMIC_CODES[n][0] for n in names]).all()
    assert (coded.labs["unit"].to_numpy() == [MIMIC_CODES[n][2] for n in names]).all()
    assert (coded.labs.loc[coded.labs["lab"] == "50971", "unit"] == "mEq/L").all()
    np.testing.assert_array_equal(coded.labs["value"].to_numpy(), plain.labs["value"].to_numpy())
    assert set(coded.labs["lab_name"]) >= {"Potassium", "Hemoglobin"}
    targets = resolve_panel(PanelSpec(), coded.lab_coding, coded.labs, None).set_index("target")
    assert targets.loc["potassium_high", "lab_codes"] == ("50971",)
    assert targets.loc["potassium_high", "drop_reason"] == ""


def test_the_synthetic_itemids_are_the_catalogues() -> None:
    for t in anyecg_lab_panel():
        if t.lab in MIMIC_CODES:
            itemid, label, unit, fluid, _ = MIMIC_CODES[t.lab]
            assert (itemid,) == tuple(map(str, t.mimic_itemids)), t.lab
            assert (label, unit, fluid) == (t.mimic_label, t.mimic_unit, t.mimic_fluid), t.lab
    assert set(MIMIC_CODES) - {t.lab for t in anyecg_lab_panel()} == {"HEMOGLOBIN"}


def _patients(config: SynthConfig, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    people = [simulate_patient(config, i) for i in range(n)]
    labs = pd.DataFrame([row for p in people for row in p.labs])
    return pd.DataFrame([p.row for p in people]), labs


def test_the_older_sicker_shift_moves_ages_sex_and_the_planted_labs() -> None:
    base = SynthConfig(n_patients=60, seed=4, fs=50.0, segment_seconds=2.0, bout_minutes=(0.05, 0.05))
    plain, plain_labs = _patients(base, 60)
    shifted, shifted_labs = _patients(SynthConfig(**{**base.__dict__, "shift": "older-sicker"}), 60)
    assert shifted["age"].min() >= 45 and plain["age"].min() < 45
    assert shifted["age"].mean() > plain["age"].mean() + 5

    def mean(labs: pd.DataFrame, lab: str) -> float:
        return float(labs.loc[labs["lab"] == lab, "value"].mean())

    assert mean(shifted_labs, "POTASSIUM") - mean(plain_labs, "POTASSIUM") == pytest.approx(0.3, abs=0.1)
    assert mean(shifted_labs, "HEMOGLOBIN") - mean(plain_labs, "HEMOGLOBIN") == pytest.approx(-1.2, abs=0.3)
    # a null lab keeps its levels (the ECG draws after them differ, so its values move a little)
    assert mean(shifted_labs, "SODIUM") == pytest.approx(mean(plain_labs, "SODIUM"), abs=0.5)


def test_the_cli_writes_a_shifted_mimic_coded_store_at_another_rate(tmp_path: Path) -> None:
    out = tmp_path / "store"
    args = [
        "cohort",
        "synth",
        "--out",
        str(out),
        "--patients",
        "1",
        "--seed",
        "3",
        "--quiet",
        "--workers",
        "1",
    ]
    args += ["--bout-minutes", "0.2", "0.2", "--fs", "250", "--lab-coding", "mimic-iv", "--shift", "noisy"]
    assert main(args) == 0
    cohort = open_cohort(out)
    assert cohort.lab_coding == "mimic-iv"
    assert (cohort.segments["fs"] == 250).all() and (cohort.segments["length"] == 2500).all()
    assert cohort.extra["synthetic"]["shift"] == {"name": "noisy", **SHIFTS["noisy"].record()}
    assert cohort.meta["parameters"]["shift"] == "noisy"
    assert main(["cohort", "synth", "--out", str(tmp_path / "x"), "--fs", "10"]) == 2
