"""MIMIC-IV ``hosp/`` tables -> the cohort store's labs, patients, visits and vitals tables.

``hosp_dir`` is the ``hosp/`` folder of MIMIC-IV (v2.x, or the open demo) as PhysioNet ships it: each table as
``<name>.csv.gz`` (or an unpacked ``<name>.csv``). Every column is read as text (large tables in chunks of
``chunk_rows`` by pyarrow's streaming CSV reader: a malformed row, e.g. with too few fields, is a CohortError
naming the file) and converted by the strict, counted parsers of :mod:`ecglab.cohort.readers.timestamps` and
:mod:`ecglab.cohort.readers.lab_values`. Every dropped row is counted in the QualityReport by (stage, reason)
with examples ``row N: ...``, N being the 1-based data row of the file (kept as the ``source_row`` column).
A row is counted once, at the first reason that drops it.

Labs (:func:`stream_mimic_labs` in bounded memory, for ``CohortWriter.stream_table``; :func:`read_mimic_labs`
the same rows whole; stage ``mimic labevents``)
    Each chunk of ``labevents`` is cut to ``subjects``/``itemids`` before anything else (rows outside the
    selection are out of scope, not drops). Then, in order: ``missing subject_id``, ``missing itemid``;
    ``missing time (charttime)``, ``unparseable time (charttime)``; ``non-numeric value``: the value is
    ``valuenum`` when that is a number, else the ``value`` text parsed by
    :func:`~ecglab.cohort.readers.lab_values.parse_lab_values`
    (``">300"`` -> 300, censored ``">"``); ``censored`` always comes from the ``value`` text, so ``"<1"``
    with a ``valuenum`` of 1 is censored ``"<"``; ``duplicate row``: same subject, itemid, charttime, value,
    censored and unit as an earlier row (the first in file order is kept); a negative value of a lab that
    cannot be negative, and a row in a unit other than its itemid's main unit with no known factor, are
    dropped and counted (:mod:`ecglab.cohort.readers.units`; a known factor converts the row). Rows with
    the same subject/itemid/charttime and different values are all kept and counted as a note (both
    whole-table rules, applied in bounded memory by :func:`~ecglab.cohort.readers.lab_values.check_rows`).
    Rows without ``hadm_id`` (26% in the demo: outpatient and pre-admission draws) are kept, ``visit_id``
    missing. ``time`` is ``charttime`` (specimen collection) and ``result_time`` is ``storetime``, both
    naive ``datetime64[us]`` (MIMIC's per-patient shifted local times). An unparseable ``storetime`` or
    reference bound is set to missing and counted; the row is kept.
Patients (:func:`read_mimic_patients`, ``mimic patients``) and visits (:func:`read_mimic_visits`,
``mimic admissions``)
    One row per subject_id / hadm_id (later repeats dropped: ``duplicate subject_id``, ``duplicate
    hadm_id``). A visit's ``arrival_time`` is ``edregtime`` (ED registration) when present, else
    ``admittime``; ``arrival_source`` says which. Whole numbers (ages, years, flags) are float64.
OMR (:func:`read_mimic_omr`, ``mimic omr``) -> vitals
    ``time`` is ``chartdate`` at 00:00: OMR has dates only, so never read it as a time of day. ``visit_id``
    is missing (OMR rows are not tied to admissions), ``source`` is ``"omr"``. A blood pressure ``"120/80"``
    gives two rows, ``SBP`` and ``DBP`` (mmHg); ``Weight`` (lb), ``Height`` (in) and ``BMI`` (kg/m2) keep
    OMR's units, and the bare names ``Weight``/``Height``/``BMI`` are taken in the same units (MIMIC
    documents their typical values as 150.00 and 64.50). Other result names (``eGFR``: a lab, read from
    labevents) are dropped and counted. ``omr_name`` keeps the original name (``Blood Pressure Sitting``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.csv_files import csv_chunks, find_table, read_csv_table
from ecglab.cohort.readers.lab_values import (
    RowChecks,
    as_text,
    check_rows,
    drop_duplicate_rows,
    examples,
    integer_or_missing,
    numeric_or_missing,
    parse_lab_values,
    parse_numbers,
    report_non_numeric,
)
from ecglab.cohort.readers.timestamps import parse_times
from ecglab.cohort.readers.units import UnitCounts, UnitPlan, drop_negative

MIMIC_TIME = "%Y-%m-%d %H:%M:%S"
MIMIC_DATE = "%Y-%m-%d"
STAGE_LABS = "mimic labevents"
STAGE_PATIENTS = "mimic patients"
STAGE_VISITS = "mimic admissions"
STAGE_OMR = "mimic omr"
HOSP_HINT = (
    "point ecglab at the hosp/ folder of MIMIC-IV (the one holding labevents.csv.gz, d_labitems.csv.gz, "
    "patients.csv.gz, admissions.csv.gz and omr.csv.gz)"
)

LABEVENT_COLUMNS = (
    *("subject_id", "hadm_id", "specimen_id", "itemid", "charttime", "storetime", "value", "valuenum"),
    *("valueuom", "ref_range_lower", "ref_range_upper", "flag", "priority"),
)
LAB_KEY = ("patient_id", "lab", "time")
LAB_CHECKS = RowChecks(
    STAGE_LABS, (*LAB_KEY, "value", "censored", "unit"), "patient_id", LAB_KEY, ("value", "unit")
)
OMR_UNITS = {  # result_name -> (measure, unit)
    "Weight (Lbs)": ("Weight", "lb"),
    "Weight": ("Weight", "lb"),
    "Height (Inches)": ("Height", "in"),
    "Height": ("Height", "in"),
    "BMI (kg/m2)": ("BMI", "kg/m2"),
    "BMI": ("BMI", "kg/m2"),
}


def id_set(ids: Iterable[object] | None) -> set[str] | None:
    """IDs as the strings the CSVs hold (``10000032``, not ``10000032.0``); None means no filter."""
    return None if ids is None else {str(i) for i in ids}


def drop_missing(frame: pd.DataFrame, column: str, quality: QualityReport, stage: str) -> pd.DataFrame:
    """Drop rows whose ``column`` is empty; count them as ``missing <column>``."""
    empty = (frame[column].str.strip() == "").to_numpy()
    quality.drop(stage, f"missing {column}", int(empty.sum()), [f"row {i}" for i in frame.index[empty][:5]])
    return keep_rows(frame, ~empty)


def keep_rows(frame: pd.DataFrame, keep: pd.Series | np.ndarray) -> pd.DataFrame:
    """``frame[keep]``, or ``frame`` itself when every row is kept (no copy of a large chunk)."""
    keep = np.asarray(keep, dtype=bool)
    return frame if keep.all() else frame[keep]


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the data row as ``source_row`` and give the frame a fresh RangeIndex."""
    frame = frame.copy()
    frame.insert(len(frame.columns), "source_row", frame.index.to_numpy(dtype="int64"))
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------- labs
def read_mimic_labitems(hosp_dir: Path | str) -> pd.DataFrame:
    """``d_labitems``: itemid (index, text) -> label, fluid, category."""
    path = find_table(hosp_dir, "d_labitems", HOSP_HINT)
    items = read_csv_table(path, ("itemid", "label", "fluid", "category"))
    return items.drop_duplicates("itemid").set_index("itemid")


def _clean_lab_chunk(chunk: pd.DataFrame, quality: QualityReport) -> pd.DataFrame:
    chunk = drop_missing(chunk, "subject_id", quality, STAGE_LABS)
    chunk = drop_missing(chunk, "itemid", quality, STAGE_LABS)
    time, ok = parse_times(chunk["charttime"], MIMIC_TIME, "charttime", quality, STAGE_LABS)
    chunk, time = keep_rows(chunk, ok), keep_rows(time, ok)

    valuenum, has_valuenum = parse_numbers(chunk["valuenum"])
    parsed, censored, parsed_ok = parse_lab_values(chunk["value"])
    ok = has_valuenum | parsed_ok
    report_non_numeric(quality, STAGE_LABS, chunk["value"], ok)
    chunk, time = keep_rows(chunk, ok), keep_rows(time, ok)
    value = keep_rows(valuenum.where(has_valuenum, parsed), ok)
    censored = keep_rows(censored.where(parsed_ok, ""), ok)

    result_time, _ = parse_times(
        chunk["storetime"], MIMIC_TIME, "storetime", quality, STAGE_LABS, required=False
    )
    return pd.DataFrame(
        {
            "patient_id": chunk["subject_id"],
            "visit_id": chunk["hadm_id"].mask(chunk["hadm_id"].str.strip() == ""),
            "time": time.array,  # aligned already: no reindexing
            "result_time": result_time,
            "lab": chunk["itemid"],
            "value": value.array,
            "censored": censored.array,
            "unit": chunk["valueuom"],
            "ref_low": numeric_or_missing(chunk["ref_range_lower"], quality, STAGE_LABS, "ref_range_lower"),
            "ref_high": numeric_or_missing(chunk["ref_range_upper"], quality, STAGE_LABS, "ref_range_upper"),
            "source_flag": chunk["flag"],
            "priority": chunk["priority"],
            "specimen_id": chunk["specimen_id"],
        },
        index=chunk.index,
    )


def _name_labs(labs: pd.DataFrame, items: pd.DataFrame, quality: QualityReport) -> pd.DataFrame:
    """Insert lab_name, fluid and category (from d_labitems; "" for an itemid it lacks, counted as a note)."""
    codes, itemids = pd.factorize(labs["lab"])  # look each itemid up once
    named = items.reindex(itemids)
    unknown = named["label"].isna().to_numpy()[codes]
    reason = "itemid not in d_labitems (kept, no lab_name)"
    quality.note(STAGE_LABS, reason, int(unknown.sum()), examples(labs["lab"], unknown))
    position = labs.columns.get_loc("lab") + 1
    for offset, (column, source) in enumerate(
        (("lab_name", "label"), ("fluid", "fluid"), ("category", "category"))
    ):
        text = pd.array(named[source].fillna("").to_numpy(), dtype="str").take(codes)
        labs.insert(position + offset, column, pd.Series(text, index=labs.index))
    return labs


def stream_mimic_labs(
    hosp_dir: Path | str,
    quality: QualityReport,
    scratch: Path | None = None,
    *,
    subjects: Iterable[object] | None = None,
    itemids: Iterable[object] | None = None,
    chunk_rows: int = 1_000_000,
) -> Iterator[pd.DataFrame]:
    """The rows of :func:`read_mimic_labs` in chunks, in file order, in bounded memory (spill files go
    under ``scratch``, e.g. ``CohortWriter.scratch_folder``): pass it to ``CohortWriter.stream_table``."""
    path = find_table(hosp_dir, "labevents", HOSP_HINT)
    items = read_mimic_labitems(hosp_dir)
    keep_subjects, keep_items = id_set(subjects), id_set(itemids)

    names = items["label"].to_dict()
    units = UnitCounts()

    def cleaned() -> Iterator[pd.DataFrame]:
        for chunk in csv_chunks(path, LABEVENT_COLUMNS, chunk_rows, at_least_one=True):
            if keep_subjects is not None:
                chunk = chunk[chunk["subject_id"].isin(keep_subjects)]
            if keep_items is not None:
                chunk = chunk[chunk["itemid"].isin(keep_items)]
            labs = drop_negative(_clean_lab_chunk(chunk, quality), quality, STAGE_LABS, names)
            units.add(labs)
            yield labs
        units.finish()  # check_rows reads every chunk before it yields the first

    plan: UnitPlan | None = None
    for labs in check_rows(cleaned(), LAB_CHECKS, quality, scratch):
        plan = plan if plan is not None else units.plan(quality, STAGE_LABS, names)
        yield _finish(_name_labs(plan.apply(labs, quality, STAGE_LABS), items, quality))


def read_mimic_labs(
    hosp_dir: Path | str,
    quality: QualityReport,
    *,
    subjects: Iterable[object] | None = None,
    itemids: Iterable[object] | None = None,
    chunk_rows: int = 1_000_000,
) -> pd.DataFrame:
    """``labevents`` (+ ``d_labitems`` names) -> labs rows, whole; see the module docstring for every rule.

    Columns: patient_id, visit_id, time, result_time, lab (itemid), lab_name, fluid, category, value,
    censored, unit, ref_low, ref_high, source_flag (``flag``: ``"abnormal"`` or ``""``), priority,
    specimen_id, source_row.
    """
    chunks = stream_mimic_labs(hosp_dir, quality, subjects=subjects, itemids=itemids, chunk_rows=chunk_rows)
    return pd.concat(list(chunks), ignore_index=True)


# ---------------------------------------------------------------- patients and visits
def read_mimic_patients(
    hosp_dir: Path | str, quality: QualityReport, subjects: Iterable[object] | None = None
) -> pd.DataFrame:
    """``patients`` -> patient_id, sex (gender), anchor_age, anchor_year, anchor_year_group, dod."""
    path = find_table(hosp_dir, "patients", HOSP_HINT)
    columns = ("subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod")
    frame = read_csv_table(path, columns)
    keep = id_set(subjects)
    if keep is not None:
        frame = frame[frame["subject_id"].isin(keep)]
    frame = drop_missing(frame, "subject_id", quality, STAGE_PATIENTS)
    repeated = frame["subject_id"].duplicated()
    quality.drop(
        STAGE_PATIENTS, "duplicate subject_id", int(repeated.sum()), examples(frame["subject_id"], repeated)
    )
    frame = frame[~repeated]
    dod, _ = parse_times(frame["dod"], MIMIC_DATE, "dod", quality, STAGE_PATIENTS, required=False)
    patients = pd.DataFrame(
        {
            "patient_id": frame["subject_id"],
            "sex": frame["gender"],
            "anchor_age": integer_or_missing(frame["anchor_age"], quality, STAGE_PATIENTS, "anchor_age"),
            "anchor_year": integer_or_missing(frame["anchor_year"], quality, STAGE_PATIENTS, "anchor_year"),
            "anchor_year_group": frame["anchor_year_group"],
            "dod": dod,
        },
        index=frame.index,
    )
    return _finish(patients)


_ADMISSION_TIMES = ("admittime", "dischtime", "deathtime", "edregtime", "edouttime")
_ADMISSION_TEXT = (
    "admission_type",
    "admit_provider_id",
    "admission_location",
    "discharge_location",
    "insurance",
    "language",
    "marital_status",
    "race",
)


def read_mimic_visits(
    hosp_dir: Path | str, quality: QualityReport, subjects: Iterable[object] | None = None
) -> pd.DataFrame:
    """``admissions`` -> visit_id (hadm_id), patient_id, arrival_time, arrival_source, the admission times
    (naive us), admission_type, ..., race, hospital_expire_flag."""
    path = find_table(hosp_dir, "admissions", HOSP_HINT)
    columns = ("subject_id", "hadm_id", *_ADMISSION_TIMES, *_ADMISSION_TEXT, "hospital_expire_flag")
    frame = read_csv_table(path, columns)
    keep = id_set(subjects)
    if keep is not None:
        frame = frame[frame["subject_id"].isin(keep)]
    frame = drop_missing(frame, "hadm_id", quality, STAGE_VISITS)
    frame = drop_missing(frame, "subject_id", quality, STAGE_VISITS)
    repeated = frame["hadm_id"].duplicated()
    quality.drop(STAGE_VISITS, "duplicate hadm_id", int(repeated.sum()), examples(frame["hadm_id"], repeated))
    frame = frame[~repeated]
    admit, ok = parse_times(frame["admittime"], MIMIC_TIME, "admittime", quality, STAGE_VISITS)
    frame, admit = frame[ok], admit[ok]

    visits = pd.DataFrame(
        {"visit_id": frame["hadm_id"], "patient_id": frame["subject_id"]}, index=frame.index
    )
    times = {"admittime": admit}
    for column in _ADMISSION_TIMES[1:]:
        times[column], _ = parse_times(
            frame[column], MIMIC_TIME, column, quality, STAGE_VISITS, required=False
        )
    from_ed = times["edregtime"].notna()
    visits["arrival_time"] = times["edregtime"].where(from_ed, admit)
    visits["arrival_source"] = np.where(from_ed, "edregtime", "admittime")
    for column, values in times.items():
        visits[column] = values
    for column in _ADMISSION_TEXT:
        visits[column] = frame[column]
    visits["hospital_expire_flag"] = integer_or_missing(
        frame["hospital_expire_flag"], quality, STAGE_VISITS, "hospital_expire_flag"
    )
    return _finish(visits)


# ---------------------------------------------------------------- omr -> vitals
def _vital_rows(
    frame: pd.DataFrame, measure: pd.Series | str, value: pd.Series, unit: pd.Series | str
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": frame["subject_id"],
            "visit_id": pd.Series(np.nan, index=frame.index, dtype="str"),
            "time": frame["time"],
            "measure": measure,
            "value": value,
            "unit": unit,
            "source": "omr",
            "omr_name": frame["result_name"],
            "seq_num": frame["seq_num"],
        },
        index=frame.index,
    )


def read_mimic_omr(
    hosp_dir: Path | str, quality: QualityReport, subjects: Iterable[object] | None = None
) -> pd.DataFrame:
    """``omr`` -> vitals rows (patient_id, visit_id missing, time = chartdate 00:00, measure, value, unit,
    source ``"omr"``, omr_name, seq_num); see the module docstring."""
    path = find_table(hosp_dir, "omr", HOSP_HINT)
    frame = read_csv_table(path, ("subject_id", "chartdate", "seq_num", "result_name", "result_value"))
    keep = id_set(subjects)
    if keep is not None:
        frame = frame[frame["subject_id"].isin(keep)]
    frame = drop_missing(frame, "subject_id", quality, STAGE_OMR)
    time, ok = parse_times(frame["chartdate"], MIMIC_DATE, "chartdate", quality, STAGE_OMR)
    frame = frame[ok].assign(time=time[ok])
    frame["seq_num"] = integer_or_missing(frame["seq_num"], quality, STAGE_OMR, "seq_num")

    name = frame["result_name"].str.strip()
    is_bp = name.str.startswith("Blood Pressure")
    known = is_bp | name.isin(list(OMR_UNITS))
    quality.drop(
        STAGE_OMR,
        "result_name not read (not a vital sign or biometric)",
        int((~known).sum()),
        examples(frame["result_name"], ~known),
    )
    frame = frame[known]
    is_bp = is_bp[known]

    single = frame[~is_bp]
    value, single_ok = parse_numbers(single["result_value"])
    single_name = single["result_name"].str.strip()
    measure = single_name.map({name: mu[0] for name, mu in OMR_UNITS.items()})
    unit = single_name.map({name: mu[1] for name, mu in OMR_UNITS.items()})
    bp = frame[is_bp]
    halves = as_text(bp["result_value"]).str.split("/", n=1, expand=True).reindex(columns=[0, 1])
    systolic, sbp_ok = parse_numbers(halves[0])
    diastolic, dbp_ok = parse_numbers(halves[1])
    bp_ok = sbp_ok & dbp_ok
    report_non_numeric(quality, STAGE_OMR, single["result_value"], single_ok)
    report_non_numeric(quality, STAGE_OMR, bp["result_value"], bp_ok)

    single = single[single_ok]
    parts = [
        _vital_rows(single, measure[single_ok], value[single_ok], unit[single_ok]),
        _vital_rows(bp[bp_ok], "SBP", systolic[bp_ok], "mmHg"),
        _vital_rows(bp[bp_ok], "DBP", diastolic[bp_ok], "mmHg"),
    ]
    vitals = pd.concat(parts).sort_index(kind="stable")
    key = ("patient_id", "time", "seq_num", "omr_name", "measure", "value")
    vitals = drop_duplicate_rows(vitals, key, quality, STAGE_OMR)
    return _finish(vitals)
