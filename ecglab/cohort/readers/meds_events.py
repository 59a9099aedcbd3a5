"""MEDS data shards -> the events of some subjects, and their lab rows and demographics.

A MEDS dataset (Medical Event Data Standard, v0.3+) keeps its events in ``data/**/*.parquet``, one row per
event: ``subject_id`` (integer), ``time`` (timestamp; null for static events such as sex), ``code`` (text),
``numeric_value`` (floating point, often float32; null when the event has none) and optionally
``text_value`` (text). Any other column is ignored. A file without one of the four, or with one of another
type (a time zone on ``time`` included), is a CohortError naming the file and the column.

Only the events of the wanted subjects are read (pyarrow filters each file on ``subject_id``). Times are
kept to the microsecond, like every store table. float32 values are read through their shortest decimal
form (``4.1``, not ``4.099999904632568``), so that a MEDS dataset written from MIMIC-IV's ``valuenum``
gives the same float64 values as ecglab's MIMIC-IV reader.

Codes (:func:`classify_code`): a code of the mapping file (``--codes``: columns ``code``, ``lab`` and
optionally ``unit``) is a lab: a mapped code matches an event code equal to it or starting with it followed
by ``//`` (the longest mapped code wins); the unit is the mapping's ``unit``, else the rest of the event code
when that is one part (``LOINC//2823-3//mmol/L`` mapped as ``LOINC//2823-3``), else none. Unmapped
``LAB//<itemid>//<unit>`` codes (MIMIC-IV as MEDS writes it) are labs: lab = the itemid, unit = the third
part (``UNK`` or empty: no unit). ``GENDER//<sex>``, ``MEDS_BIRTH`` and ``MEDS_DEATH`` are the demographics.
Every other event is not read: counted as a note per code prefix (the part before the first ``//``).

Lab values follow MIMIC-IV's rule: ``numeric_value`` when present, else ``text_value`` parsed by
:func:`~ecglab.cohort.readers.lab_values.parse_lab_values` (``"<0.01"`` censored, ``"___"`` dropped and
counted as ``non-numeric value``); ``censored`` always comes from ``text_value``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecglab.cohort.errors import CohortError
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.csv_files import check_columns, read_any_table, table_errors
from ecglab.cohort.readers.lab_values import as_text, examples, parse_lab_values, report_non_numeric

STAGE = "meds events"
REQUIRED = {"subject_id": "integer", "time": "timestamp", "code": "text", "numeric_value": "floating point"}
MIMIC_LAB = "LAB"
SEP = "//"
NO_UNIT = ("", "UNK")
SEX_CODE, BIRTH_CODE, DEATH_CODE = "GENDER", "MEDS_BIRTH", "MEDS_DEATH"
FROM_MAP, FROM_MIMIC = "map", "mimic"
DATED = (BIRTH_CODE, DEATH_CODE)  # events whose time is not a time of care


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _type_ok(column: str, kind: pa.DataType) -> bool:
    if pa.types.is_null(kind):  # a shard where every value is null (e.g. only static events)
        return column != "subject_id" and column != "code"
    if column == "subject_id":
        return pa.types.is_integer(kind)
    if column == "time":
        return pa.types.is_timestamp(kind) and kind.tz is None
    if column == "numeric_value":
        return pa.types.is_floating(kind)
    return _is_text(kind)


def data_files(meds_dir: Path) -> list[Path]:
    """The data shards ``data/**/*.parquet`` of a MEDS dataset, sorted; CohortError when there are none."""
    data = Path(meds_dir) / "data"
    if not data.is_dir():
        raise CohortError(f"{data} not found: point --meds at a MEDS dataset folder (data/ and metadata/)")
    files = sorted(data.rglob("*.parquet"))
    if not files:
        raise CohortError(f"{data}: no .parquet files (a MEDS dataset keeps its events in data/**/*.parquet)")
    return files


def _columns(path: Path) -> list[str]:
    """The columns to read from one shard, after checking their types."""
    with table_errors(path):
        schema = pq.read_schema(path)
    for column, what in REQUIRED.items():
        if column not in schema.names:
            raise CohortError(f"{path}: no column {column!r} (MEDS data needs {', '.join(REQUIRED)})")
        kind = schema.field(column).type
        if not _type_ok(column, kind):
            zone = " with a time zone (MEDS times are naive)" if pa.types.is_timestamp(kind) else ""
            raise CohortError(f"{path}: column {column} should be {what}, found {kind}{zone}")
    if "text_value" in schema.names and not _type_ok("text_value", schema.field("text_value").type):
        raise CohortError(
            f"{path}: column text_value should be text, found {schema.field('text_value').type}"
        )
    return [*REQUIRED, *(["text_value"] if "text_value" in schema.names else [])]


def _numbers(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """float64 values; float32 through their shortest decimal text (what the writer meant)."""
    if pa.types.is_float32(values.type) or pa.types.is_float16(values.type):
        return pc.cast(pc.cast(values, pa.string()), pa.float64())
    return pc.cast(values, pa.float64())


def _normalise(table: pa.Table) -> pa.Table:
    text = table["text_value"] if "text_value" in table.column_names else pa.nulls(len(table), pa.string())
    return pa.table(
        {
            "subject_id": pc.cast(table["subject_id"], pa.int64()),
            "time": pc.cast(table["time"], pa.timestamp("us"), safe=False),
            "code": pc.fill_null(pc.cast(table["code"], pa.string()), ""),
            "numeric_value": _numbers(table["numeric_value"]),
            "text_value": pc.cast(text, pa.string()),
        }
    )


@dataclass(frozen=True)
class MedsEvents:
    """What the data shards hold for the wanted subjects: the events ecglab reads (labs and demographics:
    subject_id int64, time datetime64[us] with NaT for static events, code, numeric_value float64 with NaN
    for none, text_value with None for none, in file order), each read code's :func:`classify_codes` row,
    each subject's first timed event other than birth and death, and the count of all their events."""

    events: pd.DataFrame
    kinds: pd.DataFrame
    first_time: pd.Series
    n_events: int
    subjects: set[int]


def _first_times(table: pa.Table) -> pa.Table:
    timed = pc.and_(pc.is_valid(table["time"]), pc.invert(pc.is_in(table["code"], pa.array(DATED))))
    return table.filter(timed).group_by("subject_id").aggregate([("time", "min")])


def read_events(
    files: Sequence[Path], subjects: set[int], mapping: CodeMap | None, quality: QualityReport
) -> MedsEvents:
    """The events of ``subjects`` in ``files``, one shard at a time: only the labs and demographics are
    kept; the others are counted (a note per code prefix) and let go."""
    wanted = pa.array(sorted(subjects), pa.int64())
    known: dict[str, tuple[str, str, str, str]] = {}
    kept, firsts, skipped, seen, n_events = [], [], Counter(), set(), 0
    for path in files:
        columns = _columns(path)
        with table_errors(path):  # filtered while read: only the wanted subjects' rows are held
            table = _normalise(
                pq.read_table(path, columns=columns, filters=pc.field("subject_id").isin(wanted))
            )
        n_events += table.num_rows
        seen.update(pc.unique(table["subject_id"]).to_pylist())
        firsts.append(_first_times(table))
        for code in pc.unique(table["code"]).to_pylist():
            if code not in known:
                known[code] = classify_code(code, mapping)
        read = pa.array([c for c, row in known.items() if row[0]], pa.string())
        keep = pc.is_in(table["code"], value_set=read)
        for item in pc.value_counts(table.filter(pc.invert(keep))["code"]).to_pylist():
            skipped[known[item["values"]][3]] += item["counts"]
        kept.append(table.filter(keep))
    for prefix, count in sorted(skipped.items()):
        quality.note(STAGE, f"events not read (neither lab nor demographic): code prefix {prefix}", count)
    events = pa.concat_tables(kept).to_pandas()
    events["time"] = events["time"].astype("datetime64[us]")
    first = pa.concat_tables(firsts).group_by("subject_id").aggregate([("time_min", "min")]).to_pandas()
    kinds = pd.DataFrame.from_dict(known, orient="index", columns=["kind", "lab", "unit", "prefix"])
    return MedsEvents(
        events=events,
        kinds=kinds.reindex(pd.unique(events["code"])),
        first_time=first.set_index("subject_id")["time_min_min"].astype("datetime64[us]"),
        n_events=n_events,
        subjects={int(s) for s in seen},
    )


# ---------------------------------------------------------------- the code mapping
@dataclass(frozen=True)
class CodeMap:
    """``--codes``: mapped code -> (lab, unit or "")."""

    path: Path
    labs: dict[str, tuple[str, str]]

    def find(self, code: str) -> tuple[str, str, str] | None:
        """(mapped code, lab, unit) of the longest mapped code that ``code`` equals or extends at ``//``."""
        parts = code.split(SEP)
        for end in range(len(parts), 0, -1):
            prefix = SEP.join(parts[:end])
            if prefix in self.labs:
                return (prefix, *self.labs[prefix])
        return None


def read_code_map(path: Path) -> CodeMap:
    """The mapping CSV/Parquet (``code``, ``lab``, optional ``unit``); CohortError when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise CohortError(f"{path} not found: pass a codes mapping table (columns code, lab[, unit])")
    frame = read_any_table(path)
    check_columns(path, [str(c) for c in frame.columns], ("code", "lab"), ("unit",), "codes mapping")
    text = {c: as_text(frame[c]).str.strip() for c in frame.columns}
    code = text["code"].str.removesuffix(SEP)
    unit = text.get("unit", pd.Series("", index=frame.index))
    blank = (code == "") | (text["lab"] == "")
    if blank.any():
        raise CohortError(
            f"{path}: blank code or lab in {int(blank.sum())} row(s), e.g. {examples(code, blank)}"
        )
    pairs = pd.DataFrame({"code": code, "lab": text["lab"], "unit": unit}).drop_duplicates()
    repeated = pairs["code"].duplicated(keep=False)
    if repeated.any():
        raise CohortError(
            f"{path}: code(s) mapped twice to different labs or units: "
            f"{sorted(set(pairs['code'][repeated]))[:3]}"
        )
    labs = {c: (lab, u) for c, lab, u in zip(pairs["code"], pairs["lab"], pairs["unit"], strict=True)}
    return CodeMap(path, labs)


def classify_code(code: str, mapping: CodeMap | None) -> tuple[str, str, str, str]:
    """``(kind, lab, unit, prefix)`` of one code: kind ``map``, ``mimic``, ``sex``, ``birth``, ``death`` or
    ``""`` for an event not read; ``unit`` is the sex for ``sex``; ``prefix`` names it in the note on events
    not read."""
    found = mapping.find(code) if mapping is not None else None
    parts = code.split(SEP)
    if found is not None:
        prefix, lab, unit = found
        rest = code[len(prefix) + len(SEP) :] if len(code) > len(prefix) else ""
        return FROM_MAP, lab, unit or (rest if SEP not in rest and rest not in NO_UNIT else ""), parts[0]
    if parts[0] == MIMIC_LAB and len(parts) in (2, 3) and parts[1]:
        return FROM_MIMIC, parts[1], parts[2] if len(parts) == 3 and parts[2] not in NO_UNIT else "", parts[0]
    if parts[0] == SEX_CODE and len(parts) == 2 and parts[1]:
        return "sex", "", parts[1], parts[0]
    if code in DATED:
        return "birth" if code == BIRTH_CODE else "death", "", "", code
    return "", "", "", parts[0]


def lab_rows(events: pd.DataFrame, kinds: pd.DataFrame, quality: QualityReport) -> pd.DataFrame:
    """The lab events as parsed lab rows: patient_id (text), time, lab, value, censored, unit, meds_code
    and lab_source (``map`` or ``mimic``); rows without a time or a value are counted and dropped."""
    stage = "meds labs"
    labs_kind = kinds[kinds["kind"].isin([FROM_MAP, FROM_MIMIC])]
    rows = events[events["code"].isin(labs_kind.index)]
    timeless = rows["time"].isna().to_numpy()
    quality.drop(stage, "lab event without time", int(timeless.sum()), examples(rows["code"], timeless))
    rows = rows[~timeless]
    number = rows["numeric_value"].to_numpy(dtype=np.float64)
    has_number = ~np.isnan(number)
    text = rows["text_value"]
    parsed, censored, parsed_ok = parse_lab_values(text)
    ok = has_number | parsed_ok.to_numpy()
    report_non_numeric(quality, stage, text.where(text.notna(), rows["code"]), ok)
    value = np.where(has_number, number, parsed.to_numpy())
    labs = pd.DataFrame(
        {
            "patient_id": rows["subject_id"].astype(str).to_numpy(),
            "time": rows["time"].to_numpy(),
            "lab": rows["code"].map(labs_kind["lab"]).to_numpy(),
            "value": value,
            "censored": censored.where(parsed_ok, "").to_numpy(dtype=object),
            "unit": rows["code"].map(labs_kind["unit"]).to_numpy(),
            "meds_code": rows["code"].to_numpy(),
            "lab_source": rows["code"].map(labs_kind["kind"]).to_numpy(),
        }
    )
    return labs[ok].reset_index(drop=True)
