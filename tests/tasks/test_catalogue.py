"""Tests of ecglab.tasks.catalogue: the AnyECG-Lab panel, its MIMIC-IV mapping and the CardioLab threshold
rule."""

from __future__ import annotations

import csv
import gzip
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from locations import REPO, SHARED

from ecglab.tasks.catalogue import (
    Target,
    anyecg_lab_panel,
    cardiolab_thresholds,
    labs_without_mimic_equivalent,
    mimic_itemids,
    parse_panel,
    read_panel,
)

PUBLISHED = SHARED / "reference" / "anyecg_lab_1h_published.csv"
MIMIC_HOSP = SHARED / "data" / "mimic-iv-demo" / "hosp"
PANEL_CSV = REPO / "ecglab" / "tasks" / "catalogues" / "anyecg_lab.csv"

NO_MIMIC = {
    "C-REACTIVE PROTEIN (CRP)",
    "CHOL/LDLD RATIO",
    "CHOLESTEROL, NON-HDL (CALCULATED)",
    "CORRECTED CALCIUM",
    "D-DIMER",
    "HIGH SENSITIVITY TROPONIN",
    "IRON>TIBC RATIO",
    "OSMOLAL GAP, SER/PLAS",
    "OSMOLALITY, CALCULATED",
    "PROCALCITONIN",
    "TRANSFERRIN SATURATION",
    "TROPONIN I",
    "UIBC",
}


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(
            f"{path} is absent: these checks need the shared folder beside the repository (../shared)"
        )
    return path


@pytest.fixture(scope="module")
def demo_units() -> dict[int, Counter]:
    """valueuom counts per itemid in the real MIMIC-IV demo labevents, read with the csv module."""
    units: dict[int, Counter] = {}
    with gzip.open(_need(MIMIC_HOSP / "labevents.csv.gz"), "rt", newline="") as f:
        for row in csv.DictReader(f):
            units.setdefault(int(row["itemid"]), Counter())[row["valueuom"]] += 1
    return units


@pytest.fixture(scope="module")
def demo_labevents() -> pd.DataFrame:
    return pd.read_csv(
        _need(MIMIC_HOSP / "labevents.csv.gz"),
        usecols=["subject_id", "itemid", "ref_range_lower", "ref_range_upper"],
    )


# --- the panel ---------------------------------------------------------------------------------------


def test_panel_has_108_targets_over_66_labs() -> None:
    panel = anyecg_lab_panel()
    assert len(panel) == 108
    assert len({t.lab for t in panel}) == 66
    assert len({t.target for t in panel}) == 108
    assert {t.direction for t in panel} == {"low", "high"}
    assert all(isinstance(t, Target) and math.isfinite(t.threshold) for t in panel)
    assert all(t.mcmed_component == t.lab for t in panel)


def test_target_ids_follow_the_documented_scheme() -> None:
    ids = {t.target: t for t in anyecg_lab_panel()}
    assert ids["potassium_low"].threshold == 3.5
    assert ids["potassium_high"].threshold == 5.0
    assert ids["iron_tibc_ratio_high"].lab == "IRON>TIBC RATIO"
    assert ids["blood_urea_nitrogen_bun_low"].lab == "BLOOD UREA NITROGEN (BUN)"
    assert ids["immature_granulocyte_autodiff_wam_high"].unit == "%"


def test_target_positive_class_is_strict() -> None:
    low, high = (t for t in anyecg_lab_panel() if t.lab == "POTASSIUM")
    assert (low.direction, high.direction) == ("low", "high")
    assert low.is_positive(3.4) and not low.is_positive(3.5)
    assert high.is_positive(5.1) and not high.is_positive(5.0)


def test_thresholds_and_units_equal_the_published_table() -> None:
    published = pd.read_csv(_need(PUBLISHED))
    panel = pd.DataFrame(
        [
            {"lab": t.lab, "direction": t.direction, "thr": t.threshold, "u": t.unit}
            for t in anyecg_lab_panel()
        ]
    )
    merged = published.merge(
        panel, on=["lab", "direction"], how="outer", indicator=True, validate="one_to_one"
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    assert (merged["threshold"] == merged["thr"]).all()
    assert (merged["unit"] == merged["u"]).all()


def test_mapped_itemids_exist_with_declared_fluid_label_and_unit(demo_units: dict[int, Counter]) -> None:
    items = pd.read_csv(_need(MIMIC_HOSP / "d_labitems.csv.gz")).set_index("itemid")
    assert len(items) == 1622
    mapped = [t for t in anyecg_lab_panel() if t.mimic_itemids]
    assert len({t.lab for t in mapped}) == 66 - len(NO_MIMIC)
    for t in mapped:
        labels = t.mimic_label.split(";")
        assert len(labels) == len(t.mimic_itemids), t.target
        for itemid, label in zip(t.mimic_itemids, labels, strict=True):
            assert itemid in items.index, (t.target, itemid)
            assert items.loc[itemid, "fluid"] == t.mimic_fluid == "Blood", (t.target, itemid)
            assert items.loc[itemid, "label"] == label, (t.target, itemid)
            assert items.loc[itemid, "category"] in t.mimic_category.split(";"), (t.target, itemid)
            assert itemid in demo_units, f"{t.target}: itemid {itemid} has no rows in the demo"
            dominant, _ = demo_units[itemid].most_common(1)[0]
            assert dominant == t.mimic_unit, (t.target, itemid, demo_units[itemid])


def test_potassium_maps_to_chemistry_50971_not_blood_gas() -> None:
    assert mimic_itemids("POTASSIUM") == (50971,)
    assert mimic_itemids("potassium_high") == (50971,)
    target = next(t for t in anyecg_lab_panel() if t.target == "potassium_low")
    assert mimic_itemids(target) == (50971,)
    assert (target.mimic_fluid, target.mimic_category, target.mimic_unit) == ("Blood", "Chemistry", "mEq/L")
    assert "50822" in target.mimic_note


def test_labs_without_mimic_equivalent_are_explained() -> None:
    assert set(labs_without_mimic_equivalent()) == NO_MIMIC
    for t in anyecg_lab_panel():
        if t.lab in NO_MIMIC:
            assert t.mimic_itemids == () and t.mimic_note and not t.mimic_unit, t.target
    assert "Troponin T" in next(t for t in anyecg_lab_panel() if t.lab == "TROPONIN I").mimic_note


def test_unknown_lab_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="HEMOGLOBIN"):
        mimic_itemids("HEMOGLOBIN")


def _edited(edit) -> str:
    frame = pd.read_csv(PANEL_CSV, dtype=str, keep_default_na=False)
    return edit(frame).to_csv(index=False)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.iloc[1:], "107 targets, expected 108"),
        (lambda f: f.assign(direction=f["direction"].where(f.index != 3, "mid")), "direction 'mid'"),
        (lambda f: f.assign(threshold=f["threshold"].where(f.index != 0, "nan")), "not finite"),
        (lambda f: f.assign(threshold=f["threshold"].where(f.index != 0, "")), "is not a number"),
        (lambda f: f.assign(target=f["target"].where(f.index != 1, f["target"][0])), "duplicated target ids"),
        (lambda f: f.assign(mimic_itemids=f["mimic_itemids"].where(f.index > 1, "50862,1")), "integers"),
        (lambda f: f.drop(columns="unit"), "lacks columns"),
    ],
)
def test_malformed_panel_is_rejected(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "panel.csv"
    path.write_text(_edited(edit))
    with pytest.raises(ValueError, match=message):
        read_panel(path)


def test_low_threshold_above_high_is_rejected() -> None:
    text = _edited(lambda f: f.assign(threshold=f["threshold"].where(f["target"] != "potassium_low", "6.0")))
    with pytest.raises(ValueError, match="POTASSIUM"):
        parse_panel(text)


# --- CardioLab thresholds ----------------------------------------------------------------------------


def _labs(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["patient_id", "lab", "ref_low", "ref_high"])
    return frame.astype({"ref_low": "float64", "ref_high": "float64"})


def test_cardiolab_thresholds_on_a_hand_made_frame() -> None:
    nan = float("nan")
    labs = _labs(
        [
            ("p1", "K", 3.3, 5.1),
            ("p1", "K", 3.5, 5.4),
            ("p2", "K", 3.4, nan),
            ("p3", "K", 9.0, 9.9),  # validation patient with an absurd range
            ("p1", "TROPONIN", nan, nan),  # no reference range at all
            ("p2", "ALB", nan, 5.2),  # upper bound only
            ("p3", "ONLY_VAL", 1.0, 2.0),  # lab seen only outside the training split
        ]
    )
    out = cardiolab_thresholds(labs, patient_ids=["p1", "p2"]).set_index("lab")
    assert list(out.index) == ["ALB", "K", "ONLY_VAL", "TROPONIN"]
    assert out.loc["K", "low_threshold"] == pytest.approx(3.4)  # median of 3.3, 3.5, 3.4
    assert out.loc["K", "high_threshold"] == pytest.approx(5.25)  # median of 5.1, 5.4 (NaN ignored)
    assert (out.loc["K", "n_rows"], out.loc["K", "n_rows_with_range"]) == (3, 3)
    assert not out.loc["K", "no_range"] and out.loc["K", "issue"] == ""
    assert math.isnan(out.loc["TROPONIN", "low_threshold"]) and math.isnan(
        out.loc["TROPONIN", "high_threshold"]
    )
    assert out.loc["TROPONIN", "no_range"] and out.loc["TROPONIN", "n_rows_with_range"] == 0
    assert out.loc["TROPONIN", "issue"] == "no reference range in any row"
    assert math.isnan(out.loc["ALB", "low_threshold"]) and out.loc["ALB", "high_threshold"] == 5.2
    assert "no lower bound" in out.loc["ALB", "issue"]
    assert out.loc["ONLY_VAL", "n_rows"] == 0 and out.loc["ONLY_VAL", "no_range"]
    assert "no rows" in out.loc["ONLY_VAL", "issue"]

    everyone = cardiolab_thresholds(labs).set_index("lab")
    assert everyone.loc["K", "low_threshold"] == pytest.approx(3.45)  # the validation row now counts
    assert everyone.loc["K", "high_threshold"] == pytest.approx(5.4)


def test_cardiolab_thresholds_rejects_bad_input() -> None:
    labs = _labs([("p1", "K", 3.5, 5.1)])
    with pytest.raises(ValueError, match="none of the 1 patient_ids"):
        cardiolab_thresholds(labs, patient_ids=["nobody"])
    with pytest.raises(ValueError, match="empty"):
        cardiolab_thresholds(labs, patient_ids=[])
    with pytest.raises(TypeError):
        cardiolab_thresholds(labs, patient_ids="p1")
    with pytest.raises(ValueError, match="lacks columns"):
        cardiolab_thresholds(labs.drop(columns="ref_high"))
    with pytest.raises(ValueError, match="numeric"):
        cardiolab_thresholds(labs.astype({"ref_low": str}))


def test_cardiolab_thresholds_on_real_demo_potassium(demo_labevents: pd.DataFrame) -> None:
    events = demo_labevents
    labs = pd.DataFrame(
        {
            "patient_id": events["subject_id"].astype(str),
            "lab": events["itemid"].astype(str),
            "ref_low": events["ref_range_lower"].astype("float64"),
            "ref_high": events["ref_range_upper"].astype("float64"),
        }
    )
    subjects = sorted(labs["patient_id"].unique())
    train = subjects[::2]

    out = cardiolab_thresholds(labs, patient_ids=train).set_index("lab")

    chosen = events[(events["itemid"] == 50971) & events["subject_id"].astype(str).isin(set(train))]
    lower = chosen["ref_range_lower"].to_numpy(dtype=float)
    upper = chosen["ref_range_upper"].to_numpy(dtype=float)
    assert out.loc["50971", "low_threshold"] == np.median(lower[~np.isnan(lower)])
    assert out.loc["50971", "high_threshold"] == np.median(upper[~np.isnan(upper)])
    assert out.loc["50971", "n_rows"] == len(chosen)

    # Over all 100 demo patients: 2,755 rows say 3.3-5.1 and 267 say 3.5-5.4, so the medians are 3.3 / 5.1.
    everyone = cardiolab_thresholds(labs).set_index("lab")
    assert (everyone.loc["50971", "low_threshold"], everyone.loc["50971", "high_threshold"]) == (3.3, 5.1)
    assert everyone.loc["50971", "n_rows"] == 3022
