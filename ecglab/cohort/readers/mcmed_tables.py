"""MC-MED tables -> the cohort store's patients, visits, labs and vitals tables.

``root`` is the MC-MED folder as PhysioNet ships it (v1.0.x): ``visits.csv``, ``labs.csv``, ``numerics.csv``
and ``split_{random,chrono}_{train,val,test}.csv`` (each also accepted gzipped, ``<name>.csv.gz``). A missing
file is a CohortError naming it. Columns are read as text and converted by the strict, counted parsers of
:mod:`ecglab.cohort.readers.timestamps` and :mod:`ecglab.cohort.readers.lab_values`; every dropped row is
counted by (stage,
reason) with examples ``row N: ...`` (N = 1-based data row of the file, kept as ``source_row``), at the first
reason that drops it.

Times: MC-MED's shifted times carry a ``Z`` (``2283-03-02T07:36:59Z``) and run to years past 2262: they are
read with the format ``%Y-%m-%dT%H:%M:%SZ`` into UTC-aware ``datetime64[us, UTC]``.

Visits (:func:`read_mcmed_visits`, stage ``mc-med visits``)
    One row per CSN: ``visit_id`` = CSN, ``patient_id`` = MRN, ``arrival_time`` = Arrival_time (required);
    the other columns keep their MC-MED names in lower case (``triage_hr``, ``ed_dispo``, ``dx_icd10``,
    ``roomed_time``, ...), with ``Gender`` -> ``sex``, ``Visits`` -> ``n_visits``, ``CC`` -> ``cc``. Units,
    from the MC-MED data dictionary: ``triage_temp`` is in degrees Celsius (numerics ``Temp`` is Fahrenheit),
    ``triage_hr`` bpm, ``triage_rr`` breaths/min, ``triage_spo2`` %, ``triage_sbp``/``triage_dbp`` mmHg,
    ``ed_los`` hours, ``hosp_los`` days; ``age`` is perturbed by +/-2 years and capped at 90;
    ``triage_acuity`` is text (``"3-Urgent"``). Drops: ``missing CSN``, ``missing MRN``, ``duplicate CSN``
    (later rows), ``missing time (Arrival_time)``, ``unparseable time (Arrival_time)``. Other times and
    numbers that do not parse are set to missing and counted; the visit is kept.
    Splits: ``split_random`` and ``split_chrono`` hold ``train``/``val``/``test`` from the split files (one
    CSN a line, with or without a ``CSN`` header). Per scheme (stage ``mc-med split_<scheme>``), dropped and
    counted: ``CSN not in visits.csv``, ``CSN listed twice in one file`` (the repeat), ``CSN in more than one
    split file`` (all its entries: the visit gets no split rather than a leaking one). A visit in no file of
    a scheme gets None there and is counted as a note.
Patients (also :func:`read_mcmed_visits`): one row per MRN; ``sex``, ``race`` and ``ethnicity`` of the
patient's first visit (by arrival), ``n_visits`` = visits in visits.csv. A patient whose Gender differs
between visits is counted as a note.
Labs (:func:`read_mcmed_labs`, stage ``mc-med labs``)
    ``visit_id`` = CSN; ``patient_id`` from visits.csv (a CSN missing there: ``visit not in visits.csv``);
    ``time`` = Order_time: MC-MED has no collection time, and the order is the closest stand-in for the draw
    (``result_time`` = Result_time lags it); ``lab`` = Component_name (the AnyECG-Lab panel names);
    ``value``/``censored`` from Component_value by the lab-value policy (``"<0.01"`` -> 0.01, ``"<"``). The
    MC-MED data dictionary calls Component_value the lab value and Component_result the result, which "may
    be categorical" where the value is numeric: so the value is never taken from Component_result.
    ``unit`` = Component_units, ``ref_low``/``ref_high`` = Component_nml_low/high, ``source_flag`` =
    Component_abnormal; ``display_name`` (the order) and ``abnormal`` are kept. Duplicates and same-time
    conflicts as for MIMIC (:mod:`ecglab.cohort.readers.lab_values`), per visit; negative values of labs
    that cannot be negative and rows in a unit other than the lab's main one are dropped or converted as for
    MIMIC (:mod:`ecglab.cohort.readers.units`). A row whose Order_time is after its Result_time is dropped
    and counted (``order time after result time``): one of its two times is wrong, and ``time`` (the order)
    is what tasks window on, so the row is not kept with a time that may be wrong. :func:`stream_mcmed_labs`
    gives the same rows in chunks, in bounded memory, for ``CohortWriter.stream_table``.
Vitals (:func:`read_mcmed_numerics`, stage ``mc-med numerics``)
    ``numerics.csv`` rows of the chosen ``measures`` (other measures are out of scope, not drops): ``measure``
    as MC-MED names it, ``value`` (plain numbers only), ``unit`` (:data:`NUMERIC_UNITS`, from the data
    dictionary), ``time`` (a 60-s mean ending at that time), ``source`` ``Chart`` (nursing) or ``Monitor``.
    :func:`stream_mcmed_numerics` gives the same rows in chunks, in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from ecglab.cohort.errors import CohortError
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.csv_files import csv_chunks, csv_header, find_table, read_csv_table, table_errors
from ecglab.cohort.readers.lab_values import (
    RowChecks,
    check_rows,
    examples,
    integer_or_missing,
    numeric_or_missing,
    parse_lab_values,
    parse_numbers,
    report_non_numeric,
)
from ecglab.cohort.readers.mimic_tables import drop_missing, keep_rows
from ecglab.cohort.readers.timestamps import parse_times
from ecglab.cohort.readers.units import UnitCounts, UnitPlan, drop_negative

MCMED_TIME = "%Y-%m-%dT%H:%M:%SZ"
STAGE_VISITS = "mc-med visits"
STAGE_LABS = "mc-med labs"
STAGE_NUMERICS = "mc-med numerics"
NOT_IN_VISITS = "visit not in visits.csv"
ORDER_AFTER_RESULT = "order time after result time (Order_time > Result_time)"
ROOT_HINT = (
    "point ecglab at the MC-MED folder (the one holding visits.csv, labs.csv, numerics.csv and the "
    "split_{random,chrono}_{train,val,test}.csv files)"
)
SCHEMES = ("random", "chrono")
SPLITS = ("train", "val", "test")
DEFAULT_MEASURES = ("HR", "RR", "SpO2", "SBP", "DBP", "MAP", "Temp")
NUMERIC_UNITS = {  # MC-MED data dictionary; "" where it gives none
    "HR": "bpm",
    "RR": "breaths/min",
    "SpO2": "%",
    "SBP": "mmHg",
    "DBP": "mmHg",
    "MAP": "mmHg",
    "Temp": "degF",
    "Perf": "",
    "Pain": "0-10",
    "LPM_O2": "L/min",
    "1min_HRV": "",
    "5min_HRV": "",
}

_VISIT_TIMES = ("Roomed_time", "Dispo_time", "Admit_time", "Departure_time")
_VISIT_WHOLE = ("Age", "Visit_no", "Visits")
_VISIT_NUMBERS = (
    "Triage_Temp",
    "Triage_HR",
    "Triage_RR",
    "Triage_SpO2",
    "Triage_SBP",
    "Triage_DBP",
    "Hours_to_next_visit",
    "ED_LOS",
    "Hosp_LOS",
)
_VISIT_TEXT = (
    "Race",
    "Ethnicity",
    "Means_of_arrival",
    "Triage_acuity",
    "CC",
    "ED_dispo",
    "Dispo_class_next_visit",
    "DC_dispo",
    "Payor_class",
    "Admit_service",
    "Dx_ICD9",
    "Dx_ICD10",
    "Dx_name",
)
_RENAMED = {"MRN": "patient_id", "CSN": "visit_id", "Gender": "sex", "Visits": "n_visits"}
_LAB_COLUMNS = (
    "CSN",
    "Order_time",
    "Result_time",
    "Component_name",
    "Component_value",
    "Component_units",
    "Component_abnormal",
    "Component_nml_low",
    "Component_nml_high",
)
_LAB_OPTIONAL = ("Display_name", "Abnormal")
_NUMERIC_COLUMNS = ("CSN", "Source", "Measure", "Value", "Time")
_LAB_KEY = ("patient_id", "visit_id", "lab", "time")
LAB_CHECKS = RowChecks(
    STAGE_LABS, (*_LAB_KEY, "value", "censored", "unit"), "patient_id", _LAB_KEY, ("value", "unit")
)
NUMERIC_CHECKS = RowChecks(STAGE_NUMERICS, ("visit_id", "measure", "source", "time", "value"), "visit_id")


def _name(column: str) -> str:
    return _RENAMED.get(column, column.lower())


def _present(path: Path, required: Sequence[str], optional: Sequence[str]) -> tuple[str, ...]:
    header = set(csv_header(path))
    return (*required, *(c for c in optional if c in header))


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["source_row"] = frame.index.to_numpy(dtype="int64")
    return frame.reset_index(drop=True)


# ---------------------------------------------------------------- visits, patients and splits
def _visit_columns(frame: pd.DataFrame, quality: QualityReport) -> pd.DataFrame:
    arrival, ok = parse_times(frame["Arrival_time"], MCMED_TIME, "Arrival_time", quality, STAGE_VISITS)
    frame, arrival = frame[ok], arrival[ok]
    out = {
        "visit_id": frame["CSN"],
        "patient_id": frame["MRN"],
        "arrival_time": arrival,
        "sex": frame["Gender"],
    }
    for column in _VISIT_WHOLE:
        if column in frame:
            out[_name(column)] = integer_or_missing(frame[column], quality, STAGE_VISITS, column)
    for column in _VISIT_NUMBERS:
        if column in frame:
            out[_name(column)] = numeric_or_missing(frame[column], quality, STAGE_VISITS, column)
    for column in _VISIT_TEXT:
        if column in frame:
            out[_name(column)] = frame[column]
    for column in _VISIT_TIMES:
        if column in frame:
            out[_name(column)], _ = parse_times(
                frame[column], MCMED_TIME, column, quality, STAGE_VISITS, required=False
            )
    return pd.DataFrame(out, index=frame.index)


def _read_split_file(path: Path) -> pd.Series:
    """The CSNs of one split file (index: 1-based data row), with or without a ``CSN`` header."""
    with table_errors(path):
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, header=None)
        except pd.errors.EmptyDataError:  # an empty file: no CSNs
            return pd.Series([], dtype="str")
    first = raw.iloc[0].str.strip()
    named = first.str.upper() == "CSN"
    if named.any():
        csns = raw.loc[1:, named.idxmax()]  # below the header, raw's index is already the data row
    elif len(raw.columns) == 1 and first.str.fullmatch("[0-9]+").all():
        csns = raw[0]
        csns.index = csns.index + 1
    else:
        raise CohortError(f"{path}: expected a CSN column or one CSN per line, found {list(first)}")
    return csns.str.strip()


def _assign_split(scheme: str, root: Path, visits: pd.DataFrame, quality: QualityReport) -> pd.Series:
    """``train``/``val``/``test`` (or None) per visit for one split scheme."""
    stage = f"mc-med split_{scheme}"
    lists = []
    for split in SPLITS:
        csns = _read_split_file(find_table(root, f"split_{scheme}_{split}", ROOT_HINT))
        lists.append(pd.DataFrame({"csn": csns, "split": split, "where": f"split_{scheme}_{split} " + csns}))
    listed = pd.concat(lists, ignore_index=True)
    listed = listed[listed["csn"] != ""]
    repeated = listed.duplicated(["csn", "split"])
    quality.drop(
        stage, "CSN listed twice in one file", int(repeated.sum()), listed["where"][repeated].head(5)
    )
    listed = listed[~repeated]
    clash = listed["csn"].duplicated(keep=False)
    quality.drop(stage, "CSN in more than one split file", int(clash.sum()), listed["where"][clash].head(5))
    listed = listed[~clash]
    unknown = ~listed["csn"].isin(visits["visit_id"])
    quality.drop(stage, "CSN not in visits.csv", int(unknown.sum()), listed["where"][unknown].head(5))
    listed = listed[~unknown]
    split = visits["visit_id"].map(pd.Series(listed["split"].to_numpy(), index=listed["csn"].to_numpy()))
    absent = split.isna()
    quality.note(
        stage,
        f"visit in no split_{scheme}_*.csv file (split_{scheme} None)",
        int(absent.sum()),
        visits["visit_id"][absent].head(5),
    )
    return split


def _patients(visits: pd.DataFrame, quality: QualityReport) -> pd.DataFrame:
    ordered = visits.sort_values(["patient_id", "arrival_time"], kind="stable")
    grouped = ordered.groupby("patient_id", sort=False)
    columns = [c for c in ("sex", "race", "ethnicity") if c in ordered]
    patients = grouped[columns].first()
    patients["n_visits"] = grouped.size().astype("int64")
    mixed = grouped["sex"].nunique() > 1
    quality.note(
        STAGE_VISITS,
        "patient with more than one Gender across visits (first visit's kept)",
        int(mixed.sum()),
        mixed.index[mixed][:5],
    )
    return patients.reset_index()


def read_mcmed_visits(root: Path | str, quality: QualityReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``visits.csv`` and the split files -> ``(patients, visits)``; see the module docstring."""
    root = Path(root)
    path = find_table(root, "visits", ROOT_HINT)
    optional = (*_VISIT_WHOLE[1:], *_VISIT_NUMBERS, *_VISIT_TEXT, *_VISIT_TIMES)
    frame = read_csv_table(path, _present(path, ("MRN", "CSN", "Arrival_time", "Gender", "Age"), optional))
    frame = drop_missing(frame, "CSN", quality, STAGE_VISITS)
    frame = drop_missing(frame, "MRN", quality, STAGE_VISITS)
    repeated = frame["CSN"].duplicated()
    quality.drop(STAGE_VISITS, "duplicate CSN", int(repeated.sum()), examples(frame["CSN"], repeated))
    visits = _visit_columns(frame[~repeated], quality)
    for scheme in SCHEMES:
        visits[f"split_{scheme}"] = _assign_split(scheme, root, visits, quality)
    visits = _finish(visits)
    return _patients(visits, quality), visits


# ---------------------------------------------------------------- labs
def _patient_of(visits: pd.DataFrame) -> pd.Series:
    return pd.Series(visits["patient_id"].to_numpy(), index=visits["visit_id"].to_numpy())


def _keep_known_visits(
    chunk: pd.DataFrame, patient_of: pd.Series, quality: QualityReport, stage: str
) -> tuple[pd.DataFrame, pd.Series]:
    patient = chunk["CSN"].map(patient_of)
    known = patient.notna()
    quality.drop(stage, NOT_IN_VISITS, int((~known).sum()), examples(chunk["CSN"], ~known))
    return keep_rows(chunk, known), keep_rows(patient, known)


def _clean_lab_chunk(chunk: pd.DataFrame, patient_of: pd.Series, quality: QualityReport) -> pd.DataFrame:
    chunk, patient = _keep_known_visits(chunk, patient_of, quality, STAGE_LABS)
    time, ok = parse_times(chunk["Order_time"], MCMED_TIME, "Order_time", quality, STAGE_LABS)
    chunk, patient, time = keep_rows(chunk, ok), keep_rows(patient, ok), keep_rows(time, ok)
    chunk = drop_missing(chunk, "Component_name", quality, STAGE_LABS)
    patient, time = patient[chunk.index], time[chunk.index]
    value, censored, ok = parse_lab_values(chunk["Component_value"])
    report_non_numeric(quality, STAGE_LABS, chunk["Component_value"], ok)
    chunk, patient, time, value, censored = chunk[ok], patient[ok], time[ok], value[ok], censored[ok]
    result_time, _ = parse_times(
        chunk["Result_time"], MCMED_TIME, "Result_time", quality, STAGE_LABS, required=False
    )
    late = (result_time.notna() & (time > result_time)).to_numpy()
    if late.any():
        shown = chunk["Order_time"] + " > " + chunk["Result_time"]
        quality.drop(STAGE_LABS, ORDER_AFTER_RESULT, int(late.sum()), examples(shown, late))
        chunk, patient, time, value, censored = (
            keep_rows(x, ~late) for x in (chunk, patient, time, value, censored)
        )
        result_time = keep_rows(result_time, ~late)
    out = {
        "patient_id": patient.array,  # aligned already: no reindexing
        "visit_id": chunk["CSN"],
        "time": time.array,
        "result_time": result_time,
        "lab": chunk["Component_name"],
        "value": value.array,
        "censored": censored.array,
        "unit": chunk["Component_units"],
        "ref_low": numeric_or_missing(chunk["Component_nml_low"], quality, STAGE_LABS, "Component_nml_low"),
        "ref_high": numeric_or_missing(
            chunk["Component_nml_high"], quality, STAGE_LABS, "Component_nml_high"
        ),
        "source_flag": chunk["Component_abnormal"],
    }
    for column in _LAB_OPTIONAL:
        if column in chunk:
            out[column.lower()] = chunk[column]
    return pd.DataFrame(out, index=chunk.index)


def stream_mcmed_labs(
    root: Path | str,
    quality: QualityReport,
    visits: pd.DataFrame,
    scratch: Path | None = None,
    *,
    components: Iterable[str] | None = None,
    chunk_rows: int = 1_000_000,
) -> Iterator[pd.DataFrame]:
    """The rows of :func:`read_mcmed_labs` in chunks, in file order, in bounded memory (spill files under
    ``scratch``, e.g. ``CohortWriter.scratch_folder``): pass it to ``CohortWriter.stream_table``."""
    path = find_table(Path(root), "labs", ROOT_HINT)
    columns = _present(path, _LAB_COLUMNS, _LAB_OPTIONAL)
    keep = None if components is None else set(components)
    patient_of = _patient_of(visits)

    units = UnitCounts()

    def cleaned() -> Iterator[pd.DataFrame]:
        for chunk in csv_chunks(path, columns, chunk_rows, at_least_one=True):
            if keep is not None:
                chunk = chunk[chunk["Component_name"].isin(keep)]
            labs = drop_negative(_clean_lab_chunk(chunk, patient_of, quality), quality, STAGE_LABS)
            units.add(labs)
            yield labs
        units.finish()  # check_rows reads every chunk before it yields the first

    plan: UnitPlan | None = None
    for labs in check_rows(cleaned(), LAB_CHECKS, quality, scratch):
        plan = plan if plan is not None else units.plan(quality, STAGE_LABS)
        yield _finish(plan.apply(labs, quality, STAGE_LABS))


def read_mcmed_labs(
    root: Path | str,
    quality: QualityReport,
    visits: pd.DataFrame,
    *,
    components: Iterable[str] | None = None,
    chunk_rows: int = 1_000_000,
) -> pd.DataFrame:
    """``labs.csv`` -> labs rows, whole, read in chunks (cut to ``components`` first when given).

    Columns: patient_id, visit_id, time (Order_time), result_time, lab, value, censored, unit, ref_low,
    ref_high, source_flag, display_name, abnormal, source_row.
    """
    chunks = stream_mcmed_labs(root, quality, visits, components=components, chunk_rows=chunk_rows)
    return pd.concat(list(chunks), ignore_index=True)


# ---------------------------------------------------------------- numerics -> vitals
def _clean_numeric_chunk(chunk: pd.DataFrame, patient_of: pd.Series, quality: QualityReport) -> pd.DataFrame:
    chunk, patient = _keep_known_visits(chunk, patient_of, quality, STAGE_NUMERICS)
    time, ok = parse_times(chunk["Time"], MCMED_TIME, "Time", quality, STAGE_NUMERICS)
    chunk, patient, time = keep_rows(chunk, ok), keep_rows(patient, ok), keep_rows(time, ok)
    value, ok = parse_numbers(chunk["Value"])
    report_non_numeric(quality, STAGE_NUMERICS, chunk["Value"], ok)
    chunk = keep_rows(chunk, ok)
    return pd.DataFrame(
        {
            "patient_id": keep_rows(patient, ok).array,  # aligned already: no reindexing
            "visit_id": chunk["CSN"],
            "time": keep_rows(time, ok).array,
            "measure": chunk["Measure"],
            "value": keep_rows(value, ok).array,
            "unit": chunk["Measure"].map(NUMERIC_UNITS),
            "source": chunk["Source"],
        },
        index=chunk.index,
    )


def stream_mcmed_numerics(
    root: Path | str,
    quality: QualityReport,
    visits: pd.DataFrame,
    scratch: Path | None = None,
    measures: Sequence[str] = DEFAULT_MEASURES,
    *,
    chunk_rows: int = 1_000_000,
) -> Iterator[pd.DataFrame]:
    """The rows of :func:`read_mcmed_numerics` in chunks, in file order, in bounded memory (spill files under
    ``scratch``): pass it to ``CohortWriter.stream_table``."""
    unknown = [m for m in measures if m not in NUMERIC_UNITS]
    if unknown:
        raise ValueError(f"unknown MC-MED measure(s) {unknown}; known: {', '.join(NUMERIC_UNITS)}")
    path = find_table(Path(root), "numerics", ROOT_HINT)
    patient_of = _patient_of(visits)
    chunks = (
        _clean_numeric_chunk(chunk[chunk["Measure"].isin(list(measures))], patient_of, quality)
        for chunk in csv_chunks(path, _NUMERIC_COLUMNS, chunk_rows, at_least_one=True)
    )
    for vitals in check_rows(chunks, NUMERIC_CHECKS, quality, scratch):
        yield _finish(vitals)


def read_mcmed_numerics(
    root: Path | str,
    quality: QualityReport,
    visits: pd.DataFrame,
    measures: Sequence[str] = DEFAULT_MEASURES,
    *,
    chunk_rows: int = 1_000_000,
) -> pd.DataFrame:
    """``numerics.csv`` -> vitals rows (patient_id, visit_id, time, measure, value, unit, source,
    source_row), whole, read in chunks cut to ``measures`` first; exact repeats dropped (duplicate row)."""
    chunks = stream_mcmed_numerics(root, quality, visits, measures=measures, chunk_rows=chunk_rows)
    return pd.concat(list(chunks), ignore_index=True)
