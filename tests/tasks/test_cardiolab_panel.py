"""The CardioLab panel follows the authors' filters (labs keyed by label, 0/0 reference ranges, labs named
H/I/L, minority fluids and units, a row minimum), each drop with its reason; on the real MIMIC-IV demo no
target keeps a threshold of 0 that came from a 0/0 range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from locations import SHARED_DATA

from ecglab.cohort.quality import QualityReport
from ecglab.tasks.cardiolab_panel import select_rows, target_key
from ecglab.tasks.panels import panel_lab_rows, resolve_panel
from ecglab.tasks.spec import PanelSpec
from ecglab.tasks.target_report import drop_rule


def _rows(lab: str, name: str, fluid: str, unit: str, n: int, low: float, high: float, **extra) -> list:
    return [
        {
            "patient_id": f"p{i % 4}",
            "lab": lab,
            "lab_name": name,
            "fluid": fluid,
            "unit": unit,
            "value": 1.0 + i,
            "ref_low": low,
            "ref_high": high,
            **extra,
        }
        for i in range(n)
    ]


def _labs() -> pd.DataFrame:
    rows = [
        *_rows("1", "Potassium", "Blood", "mEq/L", 6, 3.5, 5.0),  # chemistry
        *_rows("2", "Potassium", "Blood", "mEq/L", 4, 3.3, 5.1),  # blood gas: the same label, merged
        *_rows("3", "Hematocrit", "Blood", "%", 8, 40.0, 50.0),
        *_rows("4", "Hematocrit", "Ascites", "%", 3, 0.0, 0.0),  # every row 0/0
        *_rows("5", "Hematocrit", "Pleural", "%", 2, 1.0, 2.0),  # a minority fluid
        *_rows("6", "Basophils", "Blood", "%", 5, 0.0, 1.0),
        *_rows("6", "Basophils", "Blood", "%", 3, 0.0, 0.0),  # 0/0 rows inside a kept lab
        *_rows("7", "H", "Blood", "", 9, 0.0, 50.0),  # the hemolysis index
        *_rows("8", "Lymphocyte Count", "Blood", "K/uL", 6, 1.0, 4.0),
        *_rows("9", "Lymphocyte Count", "Blood", "#/uL", 2, 1000.0, 4000.0),  # a minority unit
        *_rows("10", "Myelocytes", "Blood", "%", 7, 0.0, 0.0),
        *_rows("11", "Rare", "Blood", "mg/dL", 2, 1.0, 2.0),
        *_rows("12", "Tie", "Urine", "mg/dL", 3, 1.0, 2.0),
        *_rows("13", "Tie", "Blood", "mg/dL", 3, 1.0, 3.0),  # a tie of fluids: the first alphabetically
    ]
    return pd.DataFrame(rows)


def _targets(min_rows: int = 3) -> pd.DataFrame:
    panel = PanelSpec(kind="cardiolab", min_lab_rows=min_rows)
    return resolve_panel(panel, "mimic-iv", _labs(), None).set_index("target")


def test_labs_are_keyed_by_label_with_thresholds_of_the_kept_rows_only() -> None:
    targets = _targets()
    potassium = targets.loc["potassium_high"]
    assert potassium["lab_codes"] == ("1", "2") and potassium["drop_reason"] == ""
    assert potassium["threshold"] == 5.0  # the median upper bound over both itemids' rows (5.0 x6, 5.1 x4)
    assert targets.loc["potassium_low", "threshold"] == 3.5
    # the 0/0 rows of a kept lab neither set its thresholds nor label anything
    assert targets.loc["basophils_high", "threshold"] == 1.0
    rows, removed = panel_lab_rows(PanelSpec(kind="cardiolab", min_lab_rows=3), _labs())
    assert not ((rows["ref_low"] == 0) & (rows["ref_high"] == 0)).any()
    assert dict(removed)["CardioLab: row with a 0/0 reference range"] == 3 + 3  # basophils, ascites Hct
    assert dict(removed)["CardioLab: row in a minority fluid of its lab"] == 2 + 3  # pleural Hct, urine Tie
    assert set(rows["lab"]) == {"1", "2", "3", "6", "8", "13"}


def test_every_dropped_label_fluid_and_unit_says_why() -> None:
    targets = _targets()
    reasons = targets["drop_reason"]
    assert reasons["h_high"] == "lab named 'H' (CardioLab drops labs named other, H, I, L)"
    assert reasons["myelocytes_low"] == "every row has a 0/0 reference range (7 rows)"
    assert reasons["hematocrit_pleural_high"] == (
        "minority fluid: 2 rows in Pleural, Hematocrit is kept in Blood (8 rows)"
    )
    assert reasons["hematocrit_ascites_high"] == "every row has a 0/0 reference range (3 rows)"
    assert targets.loc["hematocrit_high", "lab_codes"] == ("3",)
    assert reasons["lymphocyte_count_ul_low"].startswith("minority unit: 2 rows in #/uL")
    assert targets.loc["lymphocyte_count_high", "unit"] == "K/uL"
    assert reasons["rare_high"] == "2 rows (< 3, panel.min_lab_rows)"
    assert drop_rule(reasons["rare_high"]) == "fewer than 3 rows (panel.min_lab_rows)"
    assert targets.loc["tie_high", "lab_codes"] == ("13",) and reasons["tie_urine_high"].startswith(
        "minority"
    )
    assert targets.index.is_unique and set(targets["direction"]) == {"low", "high"}
    kept = targets[reasons == ""]
    assert sorted(kept["lab"].unique()) == ["Basophils", "Hematocrit", "Lymphocyte Count", "Potassium", "Tie"]


def test_the_row_minimum_is_a_panel_option_and_a_selection_is_reused_for_its_table() -> None:
    assert _targets(min_rows=200)["drop_reason"].ne("").all()
    assert _targets(min_rows=0).loc["rare_high", "drop_reason"] == ""
    labs = _labs()
    first = select_rows(labs, 3)
    assert select_rows(labs, 3) is first and select_rows(labs, 4) is not first
    assert select_rows(_labs(), 3) is not select_rows(labs, 3)  # another table: selected again


def test_a_cohort_without_lab_names_is_keyed_by_lab_code() -> None:
    labs = _labs().drop(columns=["lab_name", "fluid"])
    labs["lab"] = labs["lab"].map(lambda code: f"LAB{code}")
    targets = resolve_panel(PanelSpec(kind="cardiolab", min_lab_rows=3), "synthetic", labs, None)
    assert "LAB1_high" in set(targets["target"]) and "LAB10_low" in set(targets["target"])
    assert target_key("Urea Nitrogen") == "urea_nitrogen" and target_key("INR(PT)") == "inr_pt"


# ====================================================================== the real MIMIC-IV demo
@pytest.fixture(scope="module")
def demo_labs() -> pd.DataFrame:
    """The demo's lab rows of the patients with an ECG (as the MIMIC reader stores them)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real open data not found at {SHARED_DATA} (the ../shared/data folder beside the repo)")
    from ecglab.cohort.readers.mimic_tables import read_mimic_labs

    records = pd.read_csv(SHARED_DATA / "mimic-iv-ecg-demo" / "record_list.csv", dtype=str)
    labs = read_mimic_labs(SHARED_DATA / "mimic-iv-demo" / "hosp", QualityReport())
    return labs[labs["patient_id"].isin(set(records["subject_id"]))].reset_index(drop=True)


def test_mimic_demo_has_no_threshold_from_a_zero_range(demo_labs: pd.DataFrame) -> None:
    zero = (demo_labs["ref_low"] == 0) & (demo_labs["ref_high"] == 0)
    # keyed by itemid with every row (the rule before), 56 itemids had a median upper bound of 0
    by_itemid = demo_labs.groupby("lab")["ref_high"].median()
    assert (by_itemid == 0).sum() >= 50 and zero.sum() > 1000
    spec = PanelSpec(kind="cardiolab")
    targets = resolve_panel(spec, "mimic-iv", demo_labs, set(demo_labs["patient_id"]))
    usable = targets[targets["drop_reason"] == ""]
    assert len(usable) >= 80 and usable["target"].is_unique
    assert not ((usable["direction"] == "high") & (usable["threshold"] <= 0)).any()
    rows, _ = panel_lab_rows(spec, demo_labs)
    assert not ((rows["ref_low"] == 0) & (rows["ref_high"] == 0)).any()
    for row in usable.itertuples():  # no usable target has a 0/0 row among the rows that label it
        assert not zero[demo_labs["lab"].isin(row.lab_codes)].all()
    named = targets.set_index("target")
    assert named.loc["basophils_high", "threshold"] == 1.0 and named.loc["basophils_high", "lab_codes"] == (
        "51146",
    )
    assert named.loc["hematocrit_high", "lab_codes"] == ("51221",)  # blood; ascites, pleural... dropped
    assert set(named.loc["glucose_high", "lab_codes"]) == {"50809", "50931"}  # one label, two itemids
    assert named.loc["h_high", "drop_reason"].startswith("lab named 'H'")
    rules = targets["drop_reason"].map(drop_rule).value_counts()
    for rule in ("minority fluid", "minority unit", "every row has a 0/0 reference range"):
        assert rules[rule] > 0, rule
    assert rules["fewer than 200 rows (panel.min_lab_rows)"] > 100
    thresholds = usable.set_index("target")["threshold"]
    assert np.isclose(thresholds["potassium_high"], 5.1) and np.isclose(thresholds["sodium_low"], 133.0)
