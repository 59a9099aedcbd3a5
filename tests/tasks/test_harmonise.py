"""Harmonising a trained task's targets onto another store: codes through the AnyECG-Lab catalogue, exact unit
factors only, a user's lab map on top, and every unmatched target named with its reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ecglab.tasks.catalogue import anyecg_lab_panel
from ecglab.tasks.errors import TaskError
from ecglab.tasks.harmonise import harmonise, read_lab_map, unmatched_reasons


def _targets(rows: list[tuple[str, str, tuple[str, ...], str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["target", "lab", "lab_codes", "direction", "threshold", "unit"])


def _labs(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    """Lab rows: (code, unit, how many rows)."""
    return pd.DataFrame([(code, unit) for code, unit, n in rows for _ in range(n)], columns=["lab", "unit"])


def _catalogue_rows(*names: str) -> pd.DataFrame:
    """The catalogue's targets ``names`` as a trained MC-MED task's targets table."""
    by_id = {t.target: t for t in anyecg_lab_panel()}
    return _targets(
        [
            (
                n,
                by_id[n].lab,
                (by_id[n].mcmed_component,),
                by_id[n].direction,
                by_id[n].threshold,
                by_id[n].unit,
            )
            for n in names
        ]
    )


def test_mcmed_targets_map_to_mimic_itemids_with_their_factors_and_reasons() -> None:
    targets = _catalogue_rows("potassium_high", "alt_sgpt_high", "iron_tibc_ratio_low", "albumin_low")
    labs = _labs([("50971", "mEq/L", 5), ("50861", "IU/L", 3), ("50822", "mEq/L", 2)])
    out = harmonise(targets, "mcmed", "mimic-iv", labs).set_index("target")
    assert out.loc["potassium_high", "lab_codes"] == ("50971",)
    assert out.loc["potassium_high", "unit"] == "mEq/L"
    assert out.loc["potassium_high", "factor"] == 1.0 and out.loc["potassium_high", "threshold"] == 5.0
    assert out.loc["alt_sgpt_high", "factor"] == 1.0  # IU/L = U/L
    assert out.loc["potassium_high", "matched_by"] == "catalogue"
    assert out.loc["iron_tibc_ratio_low", "drop_reason"] == "no equivalent of IRON>TIBC RATIO in mimic-iv"
    assert out.loc["albumin_low", "drop_reason"] == "ALBUMIN is not measured in the external cohort"
    assert unmatched_reasons(out.reset_index()) == [
        "iron_tibc_ratio_low: no equivalent of IRON>TIBC RATIO in mimic-iv",
        "albumin_low: ALBUMIN is not measured in the external cohort",
    ]


def test_a_scaled_unit_converts_the_threshold_and_an_unknown_factor_is_a_reason() -> None:
    targets = _targets(
        [
            ("hemoglobin_low", "HEMOGLOBIN", ("HEMOGLOBIN",), "low", 12.0, "g/dL"),
            ("d_dimer_high", "D-DIMER", ("D-DIMER",), "high", 0.5, "ug/mL FEU"),
            ("lactate_high", "LACTATE", ("LACTATE",), "high", 2.0, ""),
        ]
    )
    labs = _labs([("HEMOGLOBIN", "g/L", 4), ("D-DIMER", "ng/mL", 2), ("LACTATE", "mmol/L", 2)])
    out = harmonise(targets, "mcmed", "mcmed", labs).set_index("target")
    assert out.loc["hemoglobin_low", "factor"] == 10.0
    assert out.loc["hemoglobin_low", "threshold"] == pytest.approx(120.0)
    assert out.loc["hemoglobin_low", "source_threshold"] == 12.0
    assert out.loc["hemoglobin_low", "matched_by"] == "same coding"
    assert out.loc["d_dimer_high", "drop_reason"] == "no exact factor from ug/mL FEU to ng/mL"
    assert out.loc["lactate_high", "drop_reason"].startswith("unit of LACTATE not stated")


def test_mimic_keyed_cardiolab_targets_map_through_their_itemids() -> None:
    targets = _targets(
        [
            ("potassium_low", "Potassium", ("50971",), "low", 3.3, "mEq/L"),
            ("calcium_total_high", "Calcium, Total", ("50893",), "high", 10.3, "mg/dL"),
            ("h_high", "Hemoglobin A1c", ("50852",), "high", 6.0, "%"),
        ]
    )
    labs = _labs([("POTASSIUM", "mmol/L", 3), ("CALCIUM", "mg/dL", 3)])
    out = harmonise(targets, "mimic-iv", "mcmed", labs).set_index("target")
    assert out.loc["potassium_low", "lab_codes"] == ("POTASSIUM",)
    assert out.loc["potassium_low", "factor"] == 1.0 and out.loc["potassium_low", "threshold"] == 3.3
    assert out.loc["calcium_total_high", "lab_codes"] == ("CALCIUM",)
    assert out.loc["h_high", "drop_reason"] == "no equivalent of Hemoglobin A1c in mcmed"


def test_a_code_in_another_unit_is_left_out_of_the_target(tmp_path: Path) -> None:
    targets = _targets([("glucose_high", "GLUCOSE", ("GLUCOSE",), "high", 140.0, "mg/dL")])
    labs = _labs([("G1", "mg/dL", 5), ("G2", "mmol/L", 2)])
    lab_map = pd.DataFrame({"source_lab": ["GLUCOSE"], "external_lab": ["G1;G2"]})
    path = tmp_path / "map.csv"
    lab_map.to_csv(path, index=False)
    out = harmonise(targets, "mcmed", "mcmed", labs, read_lab_map(path))
    assert out.loc[0, "lab_codes"] == ("G1",) and out.loc[0, "factor"] == 1.0
    assert out.loc[0, "matched_by"] == "lab map"


def test_the_lab_map_adds_overrides_and_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text(
        "source_lab,external_lab,factor\n"
        "D-DIMER,50915,1000\n"  # adds an equivalence the catalogue lacks, with its factor
        "potassium_high,K2,\n"  # the target id wins over its lab
        "POTASSIUM,50971,\n"
        "SODIUM,,\n"  # left out
    )
    targets = _catalogue_rows("d_dimer_high", "potassium_low", "potassium_high", "sodium_low")
    labs = _labs([("50915", "ng/mL", 3), ("50971", "mEq/L", 3), ("K2", "mmol/L", 3), ("50983", "mEq/L", 3)])
    lab_map = read_lab_map(path)
    out = harmonise(targets, "mcmed", "mimic-iv", labs, lab_map).set_index("target")
    assert out.loc["d_dimer_high", "factor"] == 1000.0 and out.loc["d_dimer_high", "threshold"] == 500.0
    assert out.loc["potassium_high", "lab_codes"] == ("K2",)
    assert out.loc["potassium_low", "lab_codes"] == ("50971",)
    assert out.loc["sodium_low", "drop_reason"] == "left out by the lab map"
    assert len(lab_map.digest) == 64
    path.write_text(path.read_text() + "GLUCOSE,50931,\n")
    assert read_lab_map(path).digest != lab_map.digest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source,external\nA,B\n", "lacks columns"),
        ("source_lab,external_lab,factor\nA,B,ten\n", "is not a number"),
        ("source_lab,external_lab,factor\nA,B,-1\n", "must be a positive number"),
        ("source_lab,external_lab\nA,B\nA,C\n", "repeated source_lab"),
    ],
)
def test_a_malformed_lab_map_is_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.csv"
    path.write_text(text)
    with pytest.raises(TaskError, match=message):
        read_lab_map(path)
    with pytest.raises(TaskError, match="lab map not found"):
        read_lab_map(tmp_path / "missing.csv")
