"""Lead ablations as tasks (ecglab.tasks.lead_ablation): the built-in single-lead variants of the estimation
tasks differ from their base only in name, description, leads and tags, have digests of their own, are
listed by ``ecglab tasks list``, and on a 12-lead store build the same anchors, split and labels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecglab.bench.cli import main
from ecglab.bench.suite.schema import load_suite, shipped_suites
from ecglab.cohort.schema import STANDARD_LEADS
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort
from ecglab.tasks.build import TaskData, build_task
from ecglab.tasks.errors import TaskSpecError
from ecglab.tasks.lead_ablation import ABLATION_BASES, LIMB_LEADS, ablation_of, lead_variants, leads_label
from ecglab.tasks.registry import get_task, list_tasks
from ecglab.tasks.spec import TaskSpec

VARIANTS = [f"{base}_lead_{lead}" for base in ABLATION_BASES for lead in LIMB_LEADS]


def test_every_base_has_a_variant_per_limb_lead_with_its_tags() -> None:
    assert sorted(list_tasks("*_lead_*")) == sorted(VARIANTS) and len(VARIANTS) == 12
    for base_name in ABLATION_BASES:
        base = get_task(base_name)
        assert ablation_of(base.tags) is None
        for lead in LIMB_LEADS:
            variant = get_task(f"{base_name}_lead_{lead}")
            assert variant.input.leads == (lead,)
            assert {"lead_ablation", f"ablation_of:{base_name}", f"lead:{lead}"} <= set(variant.tags)
            assert set(base.tags) <= set(variant.tags) and ablation_of(variant.tags) == (base_name, lead)
            # nothing else differs: panel, split, windows, eval, tabular inputs, version
            same = replace(
                variant, name=base.name, description=base.description, input=base.input, tags=base.tags
            )
            assert same == base


def test_variants_have_digests_of_their_own_and_the_bases_keep_theirs() -> None:
    digests = [get_task(name).digest() for name in [*VARIANTS, *ABLATION_BASES]]
    assert len(set(digests)) == len(digests)
    training = {name: get_task(name).training_digest() for name in VARIANTS}
    assert len(set(training.values())) == len(VARIANTS)
    # AnyECG-Lab feeds lead II already: its lead-II variant trains exactly as the base does
    assert training["anyecg_lab_est_60min_lead_II"] == get_task("anyecg_lab_est_60min").training_digest()
    assert get_task("cardiolab_est_60min").digest()[:16] == "bcd49e41db7068e2"


def test_variants_follow_the_given_base_specs_and_a_missing_base_is_named() -> None:
    base = get_task("cardiolab_est_60min")
    moved = replace(base, window_min=30)
    (variant,) = lead_variants([moved], bases=[base.name], leads=["aVL"])
    assert variant.window_min == 30 and variant.input.leads == ("aVL",)
    with pytest.raises(TaskSpecError, match="anyecg_lab_est_60min"):
        lead_variants([base])
    assert leads_label(STANDARD_LEADS[::-1]) == "12-lead" and leads_label(("I", "II")) == "I+II"


def test_tasks_list_shows_and_filters_the_variants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "*_lead_*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(VARIANTS)
    assert all(line.endswith(f"leads={line.split()[0].rsplit('_', 1)[1]}") for line in lines)
    assert main(["tasks", "list"]) == 0
    assert "cardiolab_est_60min_lead_aVR" in capsys.readouterr().out


# ------------------------------------------------------------------------------------ on a 12-lead store
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = SynthConfig(n_patients=14, seed=1, leads=STANDARD_LEADS, fs=100.0, bout_minutes=(0.2, 0.5))
    return build_synthetic_cohort(tmp_path_factory.mktemp("leads") / "c", config, workers=1, progress=False)


def small(name: str) -> TaskSpec:
    """A variant with the tiny store's changes (the same for every variant): one positive and negative
    patient per target, no lab-row minimum, the store's rate, a split with room for val and test."""
    spec = get_task(name)
    panel = replace(
        spec.panel,
        min_positives=1,
        min_negatives=1,
        min_positive_patients=1,
        min_negative_patients=1,
        min_lab_rows=0,
    )
    split = replace(spec.split, fractions=(0.5, 0.25, 0.25))
    return replace(spec, panel=panel, split=split, input=replace(spec.input, fs=100.0))


def assert_same_labels(first: TaskData, second: TaskData) -> None:
    assert len(first.anchors) > 0 and first.kept_targets and (first.labels == 1).any()
    pd.testing.assert_frame_equal(first.anchors, second.anchors)
    assert set(first.anchors["split"]) == {"train", "val", "test"}
    assert first.kept_targets == second.kept_targets
    np.testing.assert_array_equal(first.labels, second.labels)
    pd.testing.assert_frame_equal(first.inputs, second.inputs)


@pytest.mark.parametrize(
    ("base", "leads"), [("cardiolab_est_60min", ("I", "aVR")), ("anyecg_lab_est_60min", ("I", "aVF"))]
)
def test_variants_on_a_12_lead_store_share_anchors_split_and_labels(
    store: Path, base: str, leads: tuple[str, str]
) -> None:
    first, second = (build_task(small(f"{base}_lead_{lead}"), store) for lead in leads)
    assert first.spec.input.leads != second.spec.input.leads
    assert_same_labels(first, second)
    if first.tabular is not None:
        pd.testing.assert_frame_equal(first.tabular, second.tabular)


def test_the_shipped_suite_runs_the_variants_with_the_1_lead_checkpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("MIMIC_STORE", "ECGFOUNDER_1LEAD"):
        monkeypatch.delenv(variable, raising=False)
    suite = load_suite("lead_ablation_mimic")
    assert suite.cohort == "${MIMIC_STORE}" and "lead_ablation_mimic" in shipped_suites()
    cardiolab = [name for name in VARIANTS if name.startswith("cardiolab")]
    pairings = suite.pairings()
    founder = [p.config for p in pairings if p.config.backbone == "ecgfounder"]
    assert sorted({c.task for c in founder}) == sorted(cardiolab) and len(founder) == 18
    assert all(c.preset == "full_1lead" and c.allow_lead_mismatch for c in founder)
    assert {c.checkpoint for c in founder} == {"${ECGFOUNDER_1LEAD}"}
    s4 = {p.config.task for p in pairings if p.config.backbone == "s4"}
    assert s4 == {"cardiolab_est_60min", *cardiolab} and len(pairings) == 18 + 7 * 3
