"""The column names a submission file may never hold: patient, visit, anchor, segment or record
identifiers, paths, and per-row scores or predictions (the MC-MED and MIMIC-IV data use agreements forbid
sharing them). :func:`ecglab.leaderboards.submission.identifier_columns` refuses a column by these names."""

from __future__ import annotations

# Column names (lower case, runs of other characters as "_") that identify people, visits, records or rows,
# or hold per-row predictions. A column matching any of these is refused by name.
IDENTIFIER_NAMES = frozenset(
    {
        "patient_id",
        "patient",
        "subject_id",
        "subject",
        "hadm_id",
        "visit_id",
        "visit",
        "csn",
        "pat_enc_csn_id",
        "mrn",
        "anchor_id",
        "anchor",
        "segment_id",
        "segment",
        "study_id",
        "stay_id",
        "record",
        "record_id",
        "record_name",
        "path",
        "file",
        "filename",
        "score",
        "scores",
        "y_score",
        "y_pred",
        "prediction",
        "predictions",
        "pred",
        "prob",
        "proba",
        "probability",
        "logit",
        "logits",
        "label_value",
        "ecg_time",
        "charttime",
    }
)
IDENTIFIER_PARTS = (
    "patient",
    "subject",
    "hadm",
    "visit",
    "csn",
    "mrn",
    "anchor",
    "segment",
    "study_id",
    "stay_id",
    "encounter",
    "record",
    "path",
    "score",
    "pred",
    "prob",
    "logit",
)
