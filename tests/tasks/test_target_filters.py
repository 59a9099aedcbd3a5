"""Targets are kept on patients as well as anchors: counts of positive and negative patients per split equal a
brute force, a target whose positive anchors come from too few patients is dropped with the count that
failed, and the no-target message names the patient rule and the nearest misses."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ecglab.cohort.quality import QualityReport
from ecglab.tasks.registry import get_task
from ecglab.tasks.spec import PanelSpec
from ecglab.tasks.target_filters import filter_targets
from ecglab.tasks.target_report import drop_rule, nearest_misses, no_target_message

PANEL = PanelSpec(min_positives=10, min_negatives=10, min_positive_patients=10, min_negative_patients=10)


def _anchors() -> pd.DataFrame:
    """40 anchors per split, patient i of a split holding anchors 2i and 2i+1 (20 patients per split)."""
    rows = [(f"{split}-{i // 2}", split) for split in ("train", "val", "test") for i in range(40)]
    return pd.DataFrame(
        {"anchor_id": np.arange(len(rows)), "patient_id": [r[0] for r in rows], "split": [r[1] for r in rows]}
    )


def _targets(names: list[str], dropped: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "target": names,
            "lab_codes": [("x",)] * len(names),
            "drop_reason": ["lab not measured in this cohort" if n in dropped else "" for n in names],
        }
    )


def _labels(anchors: pd.DataFrame, positive_patients: dict[str, int]) -> np.ndarray:
    """One column per target: in val and test, the anchors of the first k patients of the split positive,
    the rest negative; -1 in train."""
    columns = []
    for k in positive_patients.values():
        index = anchors["patient_id"].str.split("-").str[1].astype(int)
        column = np.where(index < k, 1, 0)
        columns.append(np.where(anchors["split"] == "train", -1, column))
    return np.stack(columns, axis=1).astype(np.int8)


def test_patient_counts_equal_a_brute_force_and_few_patients_drop_a_target() -> None:
    anchors = _anchors()
    wanted = {"many": 10, "two": 2, "half": 10}  # "two": 4 positive anchors of 2 patients; "many": 20 of 10
    labels = _labels(anchors, wanted)
    labels[anchors.index[anchors["split"] == "test"][:3], 2] = -1  # half: one patient unmeasured, one half
    report = QualityReport()
    targets = _targets([*wanted, "absent"], dropped=("absent",))
    table, kept = filter_targets(
        PanelSpec(min_positives=4, min_negatives=4), targets, anchors, labels, report, "task t"
    )
    by = table.set_index("target")
    for j, name in enumerate(wanted):
        for split in ("val", "test"):
            rows = (anchors["split"] == split).to_numpy()
            for value, kind in ((1, "positive"), (0, "negative")):
                brute = len(
                    {
                        p
                        for p, y in zip(anchors["patient_id"][rows], labels[rows, j], strict=True)
                        if y == value
                    }
                )
                assert by.loc[name, f"{kind}_patients_{split}"] == brute, (name, split, kind)
    assert by.loc["half", "positive_patients_test"] == 9 and by.loc["half", "positives_test"] == 17
    assert by.loc["two", "drop_reason"] == "2 positive patients in val (< 10)"
    assert by.loc["half", "drop_reason"] == "9 positive patients in test (< 10)"
    assert drop_rule(by.loc["half", "drop_reason"]) == "fewer than 10 positive patients in test"
    assert by.loc["many", "kept"] and kept.shape == (len(anchors), 1)
    np.testing.assert_array_equal(kept[:, 0], labels[:, 0])
    assert by.loc["absent", "drop_reason"] == "lab not measured in this cohort"
    assert by.loc["absent", "positive_patients_test"] == 0
    notes = report.to_dict()
    assert "target dropped: fewer than 10 positive patients in val" in str(notes) and "two" in str(notes)


def test_anchors_are_checked_before_patients_and_negative_patients_count() -> None:
    anchors = _anchors()
    labels = _labels(anchors, {"rare": 3, "common": 15})
    table, _ = filter_targets(PANEL, _targets(["rare", "common"]), anchors, labels, QualityReport(), "t")
    by = table.set_index("target")
    assert by.loc["rare", "drop_reason"] == "6 positives in val (< 10)"  # 6 anchors of 3 patients
    assert by.loc["common", "drop_reason"] == "5 negative patients in val (< 10)"  # 10 negative anchors


def test_the_no_target_message_names_the_patient_rule_and_the_closest() -> None:
    anchors = _anchors()
    labels = _labels(anchors, {"a": 8, "b": 6, "c": 2})
    panel = PanelSpec(min_positives=2, min_negatives=2)
    table, _ = filter_targets(panel, _targets(["a", "b", "c"]), anchors, labels, QualityReport(), "t")
    spec = replace(get_task("anyecg_lab_est_60min"), panel=panel)
    assert nearest_misses(table, spec) == [
        "a 8/10 positive patients in val",
        "b 6/10 positive patients in val",
        "c 2/10 positive patients in val",
    ]
    message = no_target_message(table, spec)
    assert message.startswith("every target was dropped: 3 for fewer than 10 positive patients in val")
    assert "min_positive_patients" in message
