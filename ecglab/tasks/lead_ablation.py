"""Lead ablations as tasks: single-lead variants of the estimation tasks, so that "which lead" is a column.

A variant is its base spec with ``input.leads`` one lead and nothing else changed (panel, split, windows,
evaluation, tabular inputs, version): on a store whose records all hold the lead (a 12-lead store), every
variant of one base has the base's anchors, split and labels, and the comparison between leads is paired.
The variants are derived here from the loaded base specs, never written out, so they follow the base.
Their tags say what they are (``lead_ablation``, ``ablation_of:<base>``, ``lead:<lead>``); tags are not in
the digests (:meth:`ecglab.tasks.spec.TaskSpec.digest`), the name and the leads are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ecglab.cohort.schema import STANDARD_LEADS
from ecglab.tasks.errors import TaskSpecError
from ecglab.tasks.spec import TaskSpec

ABLATION_BASES = ("anyecg_lab_est_60min", "cardiolab_est_60min")
# the limb leads: lead I is what the 1-lead ECGFounder was pretrained on, lead II what AnyECG-Lab feeds
LIMB_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF")
ABLATION_TAG = "lead_ablation"
BASE_PREFIX = "ablation_of:"
LEAD_PREFIX = "lead:"


def variant_name(base: str, lead: str) -> str:
    """The name of ``base``'s variant fed only ``lead``, e.g. ``cardiolab_est_60min_lead_aVR``."""
    return f"{base}_lead_{lead}"


def lead_variant(base: TaskSpec, lead: str) -> TaskSpec:
    """``base`` fed only ``lead``: the same spec but for its name, description, leads and tags."""
    leads = ",".join(base.input.leads)
    return replace(
        base,
        name=variant_name(base.name, lead),
        description=(
            f"Lead ablation of {base.name} (input {leads}): only lead {lead} is fed; the anchors, split, "
            f"windows and labels are the base task's, so the leads compare paired on a 12-lead store."
        ),
        input=replace(base.input, leads=(lead,)),
        tags=(*base.tags, ABLATION_TAG, f"{BASE_PREFIX}{base.name}", f"{LEAD_PREFIX}{lead}"),
    )


def lead_variants(
    specs: Sequence[TaskSpec], bases: Sequence[str] = ABLATION_BASES, leads: Sequence[str] = LIMB_LEADS
) -> list[TaskSpec]:
    """One variant per base task of ``bases`` (found among ``specs``) and lead of ``leads``, in that
    order; a TaskSpecError names a base that ``specs`` lacks."""
    by_name = {spec.name: spec for spec in specs}
    missing = [name for name in bases if name not in by_name]
    if missing:
        raise TaskSpecError(f"lead ablations: no base task {missing} among {sorted(by_name)}")
    return [lead_variant(by_name[name], lead) for name in bases for lead in leads]


def ablation_of(tags: Sequence[str]) -> tuple[str, str] | None:
    """``(base task, lead)`` of a lead-ablation variant's tags, None for any other task."""
    if ABLATION_TAG not in tags:
        return None
    base = [t.removeprefix(BASE_PREFIX) for t in tags if t.startswith(BASE_PREFIX)]
    lead = [t.removeprefix(LEAD_PREFIX) for t in tags if t.startswith(LEAD_PREFIX)]
    if len(base) != 1 or len(lead) != 1:
        raise TaskSpecError(f"a lead_ablation task needs one {BASE_PREFIX} and one {LEAD_PREFIX} tag: {tags}")
    return base[0], lead[0]


def leads_label(leads: Sequence[str]) -> str:
    """How the leaderboard names a base task's own input: ``12-lead`` for the standard 12 leads in any
    order, else the leads joined with ``+``."""
    if len(leads) == len(STANDARD_LEADS) and set(leads) == set(STANDARD_LEADS):
        return "12-lead"
    return "+".join(leads)
