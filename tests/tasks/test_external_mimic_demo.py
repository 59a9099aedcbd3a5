"""External validation with the real MIMIC-IV demo as one side: a task trained on the synthetic MC-MED store
tested on a store of the demo's real lab tables (ECG times from the real record list, waveforms written in
tmp), and the demo's CardioLab targets harmonised onto MC-MED names through their itemids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from external_stores import external_spec, shared_folder, source_store
from task_fixtures import bf_closest_labels
from wfdb_fixtures import demo_record_list, require_shared_data, write_mimic_ecg_tree

from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.mimic import build_mimic_cohort
from ecglab.cohort.readers.mimic_tables import read_mimic_labs
from ecglab.cohort.store import open_cohort
from ecglab.tasks.build import build_task
from ecglab.tasks.cardiolab_panel import cardiolab_targets
from ecglab.tasks.catalogue import anyecg_lab_panel
from ecglab.tasks.external import build_external_task
from ecglab.tasks.harmonise import harmonise

SUBJECTS = 16  # the demo subjects with the most ECGs: about a hundred records to write


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = require_shared_data()
    root = tmp_path_factory.mktemp("demo")
    records = demo_record_list()
    busiest = records["subject_id"].value_counts().sort_index().sort_values(ascending=False, kind="stable")
    chosen = records[records["subject_id"].isin(busiest.index[:SUBJECTS])].reset_index(drop=True)
    write_mimic_ecg_tree(root / "ecg", chosen)
    return build_mimic_cohort(
        data / "mimic-iv-demo", root / "ecg", root / "store", leads=("II",), workers=1, progress=False
    )


def test_a_synthetic_task_tested_on_the_mimic_demo_labels_its_real_potassium(
    demo_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = build_task(external_spec(), source_store(shared_folder(tmp_path_factory)))
    external = build_external_task(source, demo_store)
    cohort = open_cohort(demo_store)
    assert cohort.lab_coding == "mimic-iv" and (external.anchors["split"] == "test").all()
    rows = external.targets.set_index("target")
    assert rows.loc["potassium_high", "lab_codes"] == ("50971",)
    assert rows.loc["potassium_high", "unit"] == "mEq/L" and rows.loc["potassium_high", "factor"] == 1.0
    assert "potassium_high" in external.kept_targets
    segments = cohort.segments.set_index("segment_id").loc[external.anchors["anchor_id"]].reset_index()
    targets = pd.DataFrame(
        {
            "lab_codes": [("50971",)],
            "direction": ["high"],
            "threshold": [source.targets.set_index("target").loc["potassium_high", "threshold"]],
        }
    )
    expected = bf_closest_labels(cohort.labs, segments, targets, 15.0)[:, 0]
    column = external.kept_targets.index("potassium_high")
    np.testing.assert_array_equal(external.labels[:, column], expected)
    assert (expected == 1).sum() > 0 and (expected == 0).sum() > 0


def test_the_demo_cardiolab_targets_map_onto_mcmed_names_through_their_itemids() -> None:
    data = require_shared_data()
    labs = read_mimic_labs(data / "mimic-iv-demo" / "hosp", QualityReport())
    targets = cardiolab_targets(labs, None, min_rows=200)
    targets = targets[targets["drop_reason"] == ""].reset_index(drop=True)
    panel = anyecg_lab_panel()
    mcmed_labs = pd.DataFrame({"lab": [t.mcmed_component for t in panel], "unit": [t.unit for t in panel]})
    out = harmonise(targets, "mimic-iv", "mcmed", mcmed_labs).set_index("target")
    assert (
        out.loc["potassium_low", "lab_codes"] == ("POTASSIUM",) and out.loc["potassium_low", "factor"] == 1.0
    )
    assert out.loc["potassium_low", "threshold"] == out.loc["potassium_low", "source_threshold"]
    matched = out[out["drop_reason"] == ""]
    assert len(matched) > 20
    unmatched = out.loc[out["drop_reason"] != "", "drop_reason"]
    assert len(unmatched) and unmatched.str.match(r"^no equivalent of .+ in mcmed$|^no exact factor").all()
