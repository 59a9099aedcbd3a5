"""MC-MED table readers on a small MC-MED-layout fixture, and the value and time parsers they rely on."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mcmed_tables_fixture import LAB_STAGE, NUMERIC_STAGE, VISIT_STAGE, write_mcmed_tables

from ecglab.cohort.errors import CohortError
from ecglab.cohort.quality import QualityReport
from ecglab.cohort.readers.lab_values import parse_lab_values, parse_numbers
from ecglab.cohort.readers.mcmed_tables import read_mcmed_labs, read_mcmed_numerics, read_mcmed_visits
from ecglab.cohort.readers.timestamps import parse_times
from ecglab.cohort.schema import validate_table

UTC_US = "datetime64[us, UTC]"


def _read_all(
    root: Path, **kwargs: Any
) -> tuple[QualityReport, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    quality = QualityReport()
    patients, visits = read_mcmed_visits(root, quality)
    labs = read_mcmed_labs(root, quality, visits, **kwargs)
    vitals = read_mcmed_numerics(root, quality, visits, **kwargs)
    return quality, patients, visits, labs, vitals


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("mcmed")
    expected = write_mcmed_tables(root)
    quality, patients, visits, labs, vitals = _read_all(root)
    return dict(
        root=root,
        expected=expected,
        quality=quality,
        patients=patients,
        visits=visits,
        labs=labs,
        vitals=vitals,
    )


def _counts(entries: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return {(e["stage"], e["reason"]): e["count"] for e in entries}


# ---------------------------------------------------------------- the parsers
def test_lab_values_policy() -> None:
    text = pd.Series(["4.1", " 12 ", "-3", ".5", "1e3", "<0.01", "<= 0.01", "> 450", ">=450", "Negative"])
    text = pd.concat([text, pd.Series(["", "___", "See comment", "1,200", "3-5", "nan", "inf", None])])
    value, censored, ok = parse_lab_values(text.reset_index(drop=True))
    assert ok.tolist() == [True] * 9 + [False] * 9
    assert value[:9].tolist() == [4.1, 12.0, -3.0, 0.5, 1000.0, 0.01, 0.01, 450.0, 450.0]
    assert value[9:].isna().all()
    assert censored[:9].tolist() == ["", "", "", "", "", "<", "<", ">", ">"]
    numbers, plain = parse_numbers(pd.Series(["1", "<1", ""]))
    assert plain.tolist() == [True, False, False] and numbers[0] == 1.0


def test_parse_times_is_strict_counted_and_microsecond() -> None:
    quality = QualityReport()
    text = pd.Series(
        [
            "2283-03-02T07:36:59Z",
            "2104-02-29T00:00:00Z",  # leap day
            "2100-02-29T00:00:00Z",  # 2100 is not a leap year
            "2283-13-01T00:00:00Z",
            "2283-03-02T24:00:00Z",
            "2283-03-02 07:36:59",  # wrong shape
            "",
            None,
        ]
    )
    times, ok = parse_times(text, "%Y-%m-%dT%H:%M:%SZ", "t", quality, "s")
    assert str(times.dtype) == UTC_US
    assert ok.tolist() == [True, True, False, False, False, False, False, False]
    assert times[0] == pd.Timestamp("2283-03-02 07:36:59", tz="UTC")
    assert quality.count("s", "unparseable time (t)") == 4 and quality.count("s", "missing time (t)") == 2
    optional, kept = parse_times(text, "%Y-%m-%dT%H:%M:%SZ", "u", quality, "s", required=False)
    assert kept.all() and optional.isna().sum() == 6
    assert quality.count("s", "unparseable time (u; set to missing, row kept)") == 4
    naive, _ = parse_times(pd.Series(["2180-06-03 12:00:00"]), "%Y-%m-%d %H:%M:%S", "c", quality, "s")
    assert str(naive.dtype) == "datetime64[us]"
    with pytest.raises(ValueError, match="unsupported"):
        parse_times(text, "%Y-%m-%d %I", "t", quality, "s")


# ---------------------------------------------------------------- the readers
def test_tables_pass_the_schema(tables: dict[str, Any]) -> None:
    for name in ("patients", "visits", "labs", "vitals"):
        validate_table(name, tables[name], where="test")


def test_visits_and_patients(tables: dict[str, Any]) -> None:
    expected, visits, patients = tables["expected"], tables["visits"], tables["patients"]
    assert len(visits) == expected["n_visits"] and len(patients) == expected["n_patients"]
    assert dict(zip(visits["visit_id"], visits["patient_id"], strict=True)) == expected["visit_to_patient"]
    assert str(visits["arrival_time"].dtype) == UTC_US
    first = visits.set_index("visit_id").loc["1001"]
    assert first["arrival_time"] == pd.Timestamp("2283-03-02 07:36:59", tz="UTC")
    assert first["roomed_time"] == pd.Timestamp("2283-03-02 07:50:00", tz="UTC")
    assert (
        first["triage_temp"] == 36.7
        and first["triage_acuity"] == "3-Urgent"
        and first["ed_dispo"] == "Discharge"
    )
    assert np.isnan(visits.set_index("visit_id").loc["4005", "triage_hr"])
    for scheme in ("split_random", "split_chrono"):
        got = {
            v: (s if isinstance(s, str) else None)
            for v, s in zip(visits["visit_id"], visits[scheme], strict=True)
        }
        assert got == expected[scheme]
    by_patient = patients.set_index("patient_id")
    assert by_patient.loc["44", "sex"] == "F" and by_patient.loc["11", "n_visits"] == 2


def test_labs(tables: dict[str, Any]) -> None:
    labs = tables["labs"]
    assert len(labs) == tables["expected"]["n_labs"]
    assert str(labs["time"].dtype) == UTC_US and str(labs["result_time"].dtype) == UTC_US
    rows = labs.set_index(["visit_id", "lab"])
    potassium = rows.loc[("1001", "POTASSIUM")]
    assert (potassium["value"], potassium["censored"], potassium["unit"]) == (4.1, "", "mmol/L")
    assert (potassium["ref_low"], potassium["ref_high"]) == (3.5, 5.1)
    assert potassium["patient_id"] == "11" and potassium["time"] == pd.Timestamp("2283-03-02 08:00", tz="UTC")
    assert tuple(rows.loc[("1001", "TROPONIN I"), ["value", "censored"]]) == (0.01, "<")
    assert tuple(rows.loc[("1001", "GLUCOSE"), ["value", "censored", "source_flag"]]) == (450.0, ">", "High")
    assert tuple(rows.loc[("1001", "CREATININE"), ["value", "censored"]]) == (0.3, "<")
    assert tuple(rows.loc[("1002", "LACTATE"), ["value", "censored"]]) == (4.0, ">")
    assert pd.isna(rows.loc[("2003", "POTASSIUM"), "result_time"])
    assert sorted(rows.loc[("2003", "SODIUM"), "value"]) == [140.0, 141.0]  # conflicting values both kept
    assert set(labs["lab"]).isdisjoint({"HCG, QUALITATIVE", "CALCIUM"})


def test_numerics(tables: dict[str, Any]) -> None:
    vitals = tables["vitals"]
    assert len(vitals) == tables["expected"]["n_vitals"]
    units = dict(zip(vitals["measure"], vitals["unit"], strict=True))
    assert units == {"HR": "bpm", "SBP": "mmHg", "Temp": "degF", "SpO2": "%", "MAP": "mmHg", "DBP": "mmHg"}
    assert set(vitals["source"]) == {"Chart", "Monitor"} and str(vitals["time"].dtype) == UTC_US
    assert vitals.loc[vitals["measure"] == "MAP", "value"].item() == 85.5
    only_hr = read_mcmed_numerics(tables["root"], QualityReport(), tables["visits"], measures=("HR", "Perf"))
    assert sorted(only_hr["measure"]) == ["HR", "Perf"]
    with pytest.raises(ValueError, match="unknown MC-MED measure"):
        read_mcmed_numerics(tables["root"], QualityReport(), tables["visits"], measures=("Pulse",))


def test_every_row_is_accounted_for(tables: dict[str, Any]) -> None:
    expected, report = tables["expected"], tables["quality"].to_dict()
    drops = _counts(report["dropped"])
    assert drops == {**expected["drops"], **expected["blanked"]}
    assert _counts(report["notes"]) == expected["notes"]

    def dropped(stage: str) -> int:
        return sum(n for (s, reason), n in expected["drops"].items() if s == stage)

    assert expected["visits_rows"] == len(tables["visits"]) + dropped(VISIT_STAGE)
    assert expected["labs_rows"] == len(tables["labs"]) + dropped(LAB_STAGE)
    assert expected["numerics_in_scope"] == len(tables["vitals"]) + dropped(NUMERIC_STAGE)


def test_chunked_reading_gives_the_same_tables(tables: dict[str, Any]) -> None:
    quality, _, _, labs, vitals = _read_all(tables["root"], chunk_rows=3)
    pd.testing.assert_frame_equal(labs, tables["labs"])
    pd.testing.assert_frame_equal(vitals, tables["vitals"])
    assert quality.to_dict() == tables["quality"].to_dict()


def test_gzipped_tables_are_read(tables: dict[str, Any], tmp_path: Path) -> None:
    for source in tables["root"].iterdir():
        with open(source, "rb") as plain, gzip.open(tmp_path / f"{source.name}.gz", "wb") as packed:
            shutil.copyfileobj(plain, packed)
    _, _, visits, labs, _ = _read_all(tmp_path)
    pd.testing.assert_frame_equal(visits, tables["visits"])
    pd.testing.assert_frame_equal(labs, tables["labs"])


@pytest.mark.parametrize("missing", ["visits", "labs", "numerics", "split_chrono_val"])
def test_missing_file_names_it(tables: dict[str, Any], tmp_path: Path, missing: str) -> None:
    for source in tables["root"].iterdir():
        if source.name != f"{missing}.csv":
            shutil.copy(source, tmp_path / source.name)
    with pytest.raises(CohortError, match=rf"{missing}\.csv.*MC-MED folder"):
        _read_all(tmp_path)


def test_missing_column_is_named(tables: dict[str, Any], tmp_path: Path) -> None:
    for source in tables["root"].iterdir():
        shutil.copy(source, tmp_path / source.name)
    labs = pd.read_csv(tmp_path / "labs.csv", dtype=str).drop(columns="Component_value")
    labs.to_csv(tmp_path / "labs.csv", index=False)
    with pytest.raises(CohortError, match="Component_value"):
        _read_all(tmp_path)


def test_unit_factors_are_exact_and_only_where_known() -> None:
    from ecglab.cohort.readers.units import unit_factor

    assert unit_factor("GLUCOSE", "mmol/L", "mg/dL") == 18.016
    assert unit_factor("Glucose", "mg/dL", "mmol/L") == pytest.approx(1 / 18.016)  # MIMIC's label, inverse
    assert unit_factor("Calcium, Total", "mg/dL", "mmol/L") == pytest.approx(1 / 4.008)
    assert unit_factor("Urea Nitrogen", "mmol/L", "mg/dL") == 2.8014
    assert unit_factor("LIPASE", "IU/L", "U/L") == 1.0  # any lab
    assert unit_factor("POTASSIUM", "mEq/L", "mmol/L") == 1.0
    assert unit_factor("CALCIUM", "mEq/L", "mmol/L") is None  # divalent: not one to one
    assert unit_factor("D-DIMER", "ng/mL FEU", "ng/mL") is None  # assay-dependent, about 2
