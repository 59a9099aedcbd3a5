"""The tabular side input ``age`` is the age at the anchor wherever the cohort keeps it: per visit (MC-MED),
per patient, or MIMIC-IV's anchor age moved to the anchor's year."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecglab.tasks.tabular import raw_features


def _anchors() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "anchor_id": ["a1", "a2", "a3"],
            "patient_id": ["p1", "p1", "p2"],
            "visit_id": ["v1", "v2", "v3"],
            "time": pd.to_datetime(["2150-01-01", "2152-06-01", "2150-03-01"]),
        }
    )


def _vitals() -> pd.DataFrame:
    return pd.DataFrame(columns=["patient_id", "visit_id", "time", "measure", "value", "unit", "source"])


def test_age_per_visit_is_read_from_the_visits_table() -> None:
    patients = pd.DataFrame({"patient_id": ["p1", "p2"], "sex": ["F", "M"]})
    visits = pd.DataFrame(
        {"visit_id": ["v1", "v2", "v3"], "patient_id": ["p1", "p1", "p2"], "age": [60.0, 62.0, 35.0]}
    )
    features = raw_features(_anchors(), patients, visits, _vitals())
    np.testing.assert_array_equal(features["age"].to_numpy(), [60.0, 62.0, 35.0])


def test_mimic_anchor_age_moves_with_the_anchor_year() -> None:
    patients = pd.DataFrame(
        {"patient_id": ["p1", "p2"], "sex": ["F", "M"], "anchor_age": [50, 70], "anchor_year": [2150, 2150]}
    )
    visits = pd.DataFrame({"visit_id": ["v1", "v2", "v3"], "patient_id": ["p1", "p1", "p2"]})
    features = raw_features(_anchors(), patients, visits, _vitals())
    np.testing.assert_array_equal(features["age"].to_numpy(), [50.0, 52.0, 70.0])
