"""Build a task on a cohort: anchors, splits, targets, labels, inputs and side inputs, as one TaskData.

Order of work (each step counted in the task's report):
1. anchors: blood tests (window estimation) or ECG segments (closest estimation, forecasting), only of the
   panel's labs; segments without the task's leads are not used;
2. inputs: segments of the patient within the training window of a blood test (or the ECG itself); anchors
   without any input are dropped;
3. provisional labels (CardioLab thresholds from all patients) to stratify the patient split;
4. the split of every patient with an anchor (stored with the task: ``patients.parquet``, kept whether or
   not the patient keeps an anchor later, since the training patients' labs set the CardioLab thresholds);
   then final thresholds from the training patients only, and final labels;
5. evaluation windows: val/test anchors keep only inputs within the task's window, else they are dropped;
6. anchors without any observed label are dropped; targets with too few positive or negative anchors or
   patients in val or test are dropped and reported (:mod:`ecglab.tasks.target_filters`);
7. tabular side inputs, imputed with training medians, when the task asks for them.

A :class:`BuildPlan` builds the same steps with a given targets table (thresholds fixed, never re-resolved)
and every kept anchor in test: the external task of :mod:`ecglab.tasks.external`.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecglab.cohort.quality import QualityReport
from ecglab.cohort.store import Cohort, open_cohort
from ecglab.tasks import labels as lab_labels
from ecglab.tasks.build_plan import SCOPE_DROP, BuildPlan
from ecglab.tasks.errors import TaskError
from ecglab.tasks.lab_rows import LabRows
from ecglab.tasks.panels import panel_lab_rows, resolve_panel
from ecglab.tasks.publish import publish
from ecglab.tasks.registry import get_task
from ecglab.tasks.spec import TaskSpec, spec_from_dict
from ecglab.tasks.splits import SPLITS, source_split, stratified_patient_split, temporal_split
from ecglab.tasks.subgroups import resolve_subgroups
from ecglab.tasks.tabular import impute, raw_features
from ecglab.tasks.target_filters import filter_targets
from ecglab.tasks.target_report import no_target_message
from ecglab.tasks.values import anchor_values

TASK_FORMAT_VERSION = 3  # 2: patients.parquet (every split patient's split); 3: values.parquet


@dataclass
class TaskData:
    """A built task. ``labels`` is anchors x kept targets in {1, 0, -1}, rows aligned with ``anchors``."""

    spec: TaskSpec
    cohort_name: str
    cohort_hash: str
    anchors: pd.DataFrame  # anchor_id, patient_id, visit_id, time, split
    targets: pd.DataFrame  # every panel target: kept, drop_reason, thresholds, counts per split
    labels: np.ndarray
    inputs: pd.DataFrame  # anchor_id, segment_id, dt_s (already limited to each split's window)
    tabular: pd.DataFrame | None = None
    report: QualityReport = field(default_factory=QualityReport)
    notes: dict[str, Any] = field(default_factory=dict)
    # patient_id, split: every patient the split assigned (those whose anchors all dropped later too); a
    # patient of a source split may have one row per split the source puts them in
    patients: pd.DataFrame | None = None
    # the lab value deciding each label (anchors x kept targets, NaN where none: ecglab.tasks.values)
    values: np.ndarray | None = None

    @property
    def train_patients(self) -> set[str]:
        """The training split's patients: from ``patients`` (their labs set the CardioLab thresholds), else
        (a task built without it) the anchors' patients."""
        table = self.patients if self.patients is not None else self.anchors
        return set(table.loc[table["split"] == "train", "patient_id"])

    @property
    def kept_targets(self) -> list[str]:
        return self.targets.loc[self.targets["kept"], "target"].tolist()

    def label_table(self) -> pd.DataFrame:
        """One row per (anchor, kept target): anchor_id, patient_id, split, target, label (-1: unmeasured)."""
        n, k = self.labels.shape
        return pd.DataFrame(
            {
                "anchor_id": np.repeat(self.anchors["anchor_id"].to_numpy(), k),
                "patient_id": np.repeat(self.anchors["patient_id"].to_numpy(dtype=object), k),
                "split": np.repeat(self.anchors["split"].to_numpy(dtype=object), k),
                "target": np.tile(np.asarray(self.kept_targets, dtype=object), n),
                "label": self.labels.reshape(-1),
            }
        )

    def eval_inputs(self, split: str) -> pd.DataFrame:
        """The inputs scored for each anchor of ``split``: up to ``eval.max_segments`` random segments per
        anchor (seeded), or the anchor's segment (crops are cut by the engine: ``eval.crops``)."""
        anchors = self.anchors.loc[self.anchors["split"] == split, "anchor_id"]
        pairs = self.inputs[self.inputs["anchor_id"].isin(anchors)]
        limit = self.spec.eval.max_segments
        if limit is None:
            return pairs.reset_index(drop=True)
        rng = np.random.default_rng(self.spec.eval.seed)
        keyed = pairs.assign(_key=rng.random(len(pairs))).sort_values(["anchor_id", "_key"], kind="stable")
        rank = keyed.groupby("anchor_id").cumcount()
        return keyed[rank < limit].drop(columns="_key").reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """What ``ecglab tasks show`` prints: anchors per split, and per target counts and prevalence."""
        per_split = self.anchors["split"].value_counts().reindex(SPLITS, fill_value=0)
        return {
            "task": self.spec.name,
            "version": self.spec.version,
            "description": " ".join(self.spec.description.split()),
            "cohort": self.cohort_name,
            "cohort_hash": self.cohort_hash,
            "anchors": {split: int(per_split[split]) for split in SPLITS},
            "patients": {
                s: int(self.anchors.loc[self.anchors["split"] == s, "patient_id"].nunique()) for s in SPLITS
            },
            "targets": json.loads(self.targets.drop(columns=["lab_codes"]).to_json(orient="records")),
            "dropped": self.report.summary_lines(),
            "notes": self.notes,
        }

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> Path:
        """Write the task atomically to ``folder`` (Parquet tables and task.json)."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        # a staging folder of this writer alone: two workers building the same task must not share one
        staging = Path(tempfile.mkdtemp(prefix=folder.name + ".partial-", dir=folder.parent))
        self.anchors.to_parquet(staging / "anchors.parquet", index=False)
        self.targets.assign(lab_codes=self.targets["lab_codes"].map(list)).to_parquet(
            staging / "targets.parquet", index=False
        )
        pd.DataFrame(self.labels, columns=self.kept_targets).to_parquet(
            staging / "labels.parquet", index=False
        )
        self.inputs.to_parquet(staging / "inputs.parquet", index=False)
        if self.tabular is not None:
            self.tabular.to_parquet(staging / "tabular.parquet", index=False)
        if self.patients is not None:
            self.patients.to_parquet(staging / "patients.parquet", index=False)
        if self.values is not None:
            pd.DataFrame(self.values, columns=self.kept_targets).to_parquet(staging / "values.parquet")
        meta = {
            "format_version": TASK_FORMAT_VERSION,
            "spec": self.spec.to_dict(),
            "spec_digest": self.spec.digest(),
            "cohort_name": self.cohort_name,
            "cohort_hash": self.cohort_hash,
            "report": self.report.to_dict(),
            "notes": self.notes,
        }
        (staging / "task.json").write_text(json.dumps(meta, indent=2))
        publish(staging, folder)
        return folder

    @classmethod
    def load(cls, folder: Path) -> TaskData:
        """A task saved by :meth:`save`; TaskError for a folder of another task format."""
        folder = Path(folder)
        meta = json.loads((folder / "task.json").read_text())
        if meta.get("format_version") != TASK_FORMAT_VERSION:
            raise TaskError(
                f"{folder}: task format {meta.get('format_version')}, this ecglab reads "
                f"{TASK_FORMAT_VERSION}; remove the folder and the task is rebuilt"
            )
        targets = pd.read_parquet(folder / "targets.parquet")
        targets["lab_codes"] = targets["lab_codes"].map(tuple)
        tabular, patients = folder / "tabular.parquet", folder / "patients.parquet"
        values = folder / "values.parquet"
        return cls(
            spec=spec_from_dict(meta["spec"]),
            cohort_name=meta["cohort_name"],
            cohort_hash=meta["cohort_hash"],
            anchors=pd.read_parquet(folder / "anchors.parquet"),
            targets=targets,
            labels=pd.read_parquet(folder / "labels.parquet").to_numpy(np.int8),
            inputs=pd.read_parquet(folder / "inputs.parquet"),
            tabular=pd.read_parquet(tabular) if tabular.exists() else None,
            report=QualityReport.from_dict(meta["report"]),
            notes=meta["notes"],
            patients=pd.read_parquet(patients) if patients.exists() else None,
            values=pd.read_parquet(values).to_numpy(np.float64) if values.exists() else None,
        )


def task_folder_name(spec: TaskSpec, content_hash: str) -> str:
    """The cache folder name of ``spec`` built on the cohort of ``content_hash`` (see :func:`task_folder`)."""
    return f"v{spec.version}-{spec.digest()[:10]}-{content_hash[:12]}-f{TASK_FORMAT_VERSION}"


def task_folder(cache_dir: Path, spec: TaskSpec, cohort: Cohort) -> Path:
    """Where ``spec`` built on ``cohort`` is cached (by spec digest, cohort content hash and task format)."""
    return Path(cache_dir) / spec.name / task_folder_name(spec, cohort.content_hash)


def build_planned(spec: TaskSpec, cohort: Cohort, plan: BuildPlan) -> TaskData:
    """Build ``spec`` on ``cohort`` as ``plan`` says (:mod:`ecglab.tasks.build_plan`; no cache here)."""
    return _Builder(spec, cohort, plan).build()


def build_task(
    task: str | TaskSpec, cohort: Cohort | str | Path, *, cache_dir: str | Path | None = None
) -> TaskData:
    """Build ``task`` on ``cohort``; with ``cache_dir`` a task built before is loaded instead of rebuilt
    (with ``spec``: what the digest leaves out, such as subgroups, may differ from the cached spec's). The
    subgroup columns are checked against the cohort first."""
    spec = get_task(task) if isinstance(task, str) else task
    cohort = cohort if isinstance(cohort, Cohort) else open_cohort(cohort)
    resolve_subgroups(spec, cohort)
    if cache_dir is not None:
        folder = task_folder(Path(cache_dir), spec, cohort)
        if (folder / "task.json").is_file():
            cached = TaskData.load(folder)
            cached.spec = spec
            return cached
    data = _Builder(spec, cohort).build()
    if cache_dir is not None:
        data.save(task_folder(Path(cache_dir), spec, cohort))
    return data


class _Builder:
    def __init__(self, spec: TaskSpec, cohort: Cohort, plan: BuildPlan | None = None) -> None:
        self.spec, self.cohort, self.plan = spec, cohort, plan
        self.report = QualityReport()
        self.stage = f"task {spec.name}"
        self.notes: dict[str, Any] = {}
        self._lab_rows: LabRows | None = None
        self._label_cache: dict = {}
        self._labs: pd.DataFrame | None = None

    @property
    def labs(self) -> pd.DataFrame:
        """The lab rows the panel labels from (CardioLab drops some: ``panel_lab_rows``), counted once."""
        if self._labs is None:
            panel = self.spec.panel if self.plan is None else replace(self.spec.panel, min_lab_rows=0)
            self._labs, removed = panel_lab_rows(panel, self.cohort.labs)
            for reason, count in removed:
                self.report.note(self.stage, reason, count)
        return self._labs

    def drop(self, reason: str, count: int, examples: Any = ()) -> None:
        self.report.drop(self.stage, reason, int(count), examples)

    # ------------------------------------------------------------------ steps
    def _segments(self) -> pd.DataFrame:
        segments = self.cohort.segments
        wanted = set(self.spec.input.leads)
        has_leads = segments["leads"].map(lambda text: wanted <= set(text.split(",")))
        self.drop(
            "segment without the task's leads",
            int((~has_leads).sum()),
            segments.loc[~has_leads, "leads"].head(),
        )
        return segments[has_leads.to_numpy()].reset_index(drop=True)

    def _panel_labs(self, targets: pd.DataFrame) -> pd.DataFrame:
        codes = {code for row in targets.loc[targets["drop_reason"] == "", "lab_codes"] for code in row}
        labs = self.labs
        return labs[labs["lab"].isin(codes)].reset_index(drop=True)

    def _anchors_and_labels(
        self, targets: pd.DataFrame, segments: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        usable = targets[targets["drop_reason"] == ""].reset_index(drop=True)
        if self.spec.kind == "window_estimation":
            labs = self._panel_labs(targets)
            anchors, test_of_row = lab_labels.blood_tests(labs)
            matrix = lab_labels.blood_test_labels(labs, test_of_row, len(anchors), usable)
            inputs = lab_labels.segments_in_windows(segments, anchors, self.spec.train_window)
            return anchors, inputs, matrix
        anchors = pd.DataFrame(
            {
                "anchor_id": segments["segment_id"].to_numpy(),
                "patient_id": segments["patient_id"].to_numpy(dtype=object),
                "visit_id": segments["visit_id"].to_numpy(dtype=object),
                "time": segments["start_time"],
            }
        )
        ecgs = segments.rename(columns={})
        if self._lab_rows is None:  # every lab row, indexed once: the relabelling pass reuses the joins
            self._lab_rows = LabRows.of(self.labs)
        label = (
            lab_labels.closest_labels
            if self.spec.kind == "closest_estimation"
            else lab_labels.forecast_labels
        )
        minutes = self.spec.window_min if self.spec.kind == "closest_estimation" else self.spec.horizon_min
        matrix = label(self._lab_rows, ecgs, usable, minutes, cache=self._label_cache)
        inputs = pd.DataFrame(
            {"anchor_id": anchors["anchor_id"], "segment_id": anchors["anchor_id"], "dt_s": 0.0}
        )
        return anchors, inputs, matrix

    def _split(self, anchors: pd.DataFrame, matrix: np.ndarray) -> np.ndarray:
        if self.plan is not None:
            names, dropped = self.plan.splits(anchors["patient_id"])
            self.drop(SCOPE_DROP, dropped)
            return names
        split = self.spec.split
        where = f"task {self.spec.name} on {self.cohort.path}"
        if split.kind == "source":
            values, several = source_split(split, self.cohort.visits, anchors, where)
            self.notes["patients_in_several_source_splits"] = several
            return values
        if split.kind == "temporal":
            return temporal_split(split, self.cohort.patients, anchors, where)
        patients, patient_of_anchor = np.unique(
            anchors["patient_id"].to_numpy(dtype=object), return_inverse=True
        )
        positives = np.zeros((len(patients), matrix.shape[1]), dtype=bool)
        np.logical_or.at(positives, patient_of_anchor, matrix == 1)
        names = stratified_patient_split(patients, positives, split.fractions, split.seed)
        return names[patient_of_anchor]

    def build(self) -> TaskData:
        spec = self.spec
        segments = self._segments()
        if segments.empty:
            leads = sorted(set(self.cohort.segments["leads"]))
            raise TaskError(
                f"task {spec.name} needs leads {list(spec.input.leads)}; no segment of "
                f"{self.cohort.path} has them (it records {leads})"
            )
        self.notes["lab_coding"] = self.cohort.lab_coding
        anchors, inputs, matrix = self._anchors_and_labels(self._targets(None), segments)
        with_input = anchors["anchor_id"].isin(inputs["anchor_id"]).to_numpy()
        self.drop(
            f"anchor without an ECG segment within +/-{spec.train_window or 0:g} min",
            int((~with_input).sum()),
        )
        anchors, matrix = anchors[with_input].reset_index(drop=True), matrix[with_input]
        anchors["split"] = self._split(anchors, matrix)
        no_split = anchors["split"].isna().to_numpy()
        if self.plan is None:  # a plan counts its own drops
            self.drop("anchor without a split in the source", int(no_split.sum()))
        anchors, matrix = anchors[~no_split].reset_index(drop=True), matrix[~no_split]
        if self.plan is not None and anchors.empty:
            raise TaskError(f"task {spec.name} on {self.cohort.path}: no test patients ({self.plan.scope})")
        patients = (
            anchors[["patient_id", "split"]]
            .drop_duplicates()
            .sort_values(["patient_id", "split"], kind="stable")
            .reset_index(drop=True)
        )
        targets = self._targets(set(patients.loc[patients["split"] == "train", "patient_id"]))
        if spec.panel.kind == "cardiolab" and self.plan is None:  # final thresholds from train: relabel
            split_of = dict(zip(anchors["anchor_id"], anchors["split"], strict=True))
            anchors_final, inputs, matrix = self._anchors_and_labels(targets, segments)
            keep = anchors_final["anchor_id"].isin(anchors["anchor_id"]).to_numpy()
            anchors_final = anchors_final[keep].reset_index(drop=True)
            anchors_final["split"] = anchors_final["anchor_id"].map(split_of)
            anchors, matrix = anchors_final, matrix[keep]

        inputs = self._window_inputs(anchors, inputs)
        with_input = anchors["anchor_id"].isin(inputs["anchor_id"]).to_numpy()
        self.drop(
            f"val/test anchor without an ECG segment within +/-{spec.window_min or 0:g} min",
            int((~with_input).sum()),
        )
        anchors, matrix = anchors[with_input].reset_index(drop=True), matrix[with_input]

        targets, matrix = self._filter_targets(targets, anchors, matrix)
        observed = (matrix != lab_labels.UNKNOWN).any(axis=1)
        self.drop("anchor without any observed target label", int((~observed).sum()))
        anchors, matrix = anchors[observed].reset_index(drop=True), matrix[observed]
        inputs = inputs[inputs["anchor_id"].isin(anchors["anchor_id"])].reset_index(drop=True)
        if not len(self.kept(targets)):
            raise TaskError(f"task {spec.name} on {self.cohort.path}: {no_target_message(targets, spec)}")
        if anchors.empty:
            raise TaskError(
                f"task {spec.name} has no usable anchors on "
                f"{self.cohort.path}: " + "; ".join(self.report.summary_lines())
            )
        tabular = self._tabular(anchors) if spec.tabular and self.plan is None else None
        kept = targets[targets["kept"]]
        labs, cache = self.labs, self._label_cache
        values = anchor_values(spec, labs, self._lab_rows, segments, anchors, kept, matrix, cache)
        return TaskData(
            spec=spec,
            cohort_name=self.cohort.name,
            cohort_hash=self.cohort.content_hash,
            anchors=anchors,
            targets=targets,
            labels=matrix,
            inputs=inputs,
            tabular=tabular,
            report=self.report,
            notes=self.notes,
            patients=patients,
            values=values,
        )

    def _targets(self, train_patients: set[str] | None) -> pd.DataFrame:
        """The panel's targets on the cohort (thresholds of ``train_patients``), or the plan's."""
        if self.plan is not None:
            return self.plan.targets
        return resolve_panel(self.spec.panel, self.cohort.lab_coding, self.cohort.labs, train_patients)

    @staticmethod
    def kept(targets: pd.DataFrame) -> list[str]:
        return targets.loc[targets["kept"], "target"].tolist()

    def _window_inputs(self, anchors: pd.DataFrame, inputs: pd.DataFrame) -> pd.DataFrame:
        if self.spec.kind != "window_estimation" or self.spec.window_min == self.spec.train_window:
            return inputs
        split = inputs["anchor_id"].map(dict(zip(anchors["anchor_id"], anchors["split"], strict=True)))
        inside = (split == "train") | (inputs["dt_s"].abs() <= self.spec.window_min * 60)
        return inputs[inside.to_numpy()].reset_index(drop=True)

    def _filter_targets(
        self, targets: pd.DataFrame, anchors: pd.DataFrame, matrix: np.ndarray
    ) -> tuple[pd.DataFrame, np.ndarray]:
        evaluated = self.plan.evaluated if self.plan is not None else ("val", "test")
        return filter_targets(self.spec.panel, targets, anchors, matrix, self.report, self.stage, evaluated)

    def _tabular(self, anchors: pd.DataFrame) -> pd.DataFrame:
        raw = raw_features(anchors, self.cohort.patients, self.cohort.visits, self.cohort.vitals)
        features, medians = impute(raw, (anchors["split"] == "train").to_numpy())
        unusable = sorted(set(raw.columns) - set(medians))
        if unusable:
            self.notes["tabular_features_never_observed_in_train"] = unusable
        self.notes["tabular_train_medians"] = medians
        features.insert(0, "anchor_id", anchors["anchor_id"].to_numpy())
        return features
