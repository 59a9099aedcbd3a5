"""A small MC-MED-layout set of tables (visits.csv, labs.csv, numerics.csv, split files) with known traps.

``write_mcmed_tables(root)`` writes them under ``root`` and returns what the readers must make of them.
Reusable for a fixture with waveforms: the visits that survive reading are

====  ====  =====================  ======================================================
CSN   MRN   Arrival_time (UTC)     notes
====  ====  =====================  ======================================================
1001  11    2283-03-02T07:36:59Z   most labs and numerics; year past 2262
1002  11    2283-05-10T10:00:00Z   second visit of MRN 11; in two chrono split files
2003  22    2199-12-31T23:30:00Z   labs and numerics past midnight into year 2200
4005  44    2283-07-01T12:00:00Z   Triage_HR "n/a" (set to missing)
4006  44    2283-08-01T12:00:00Z   Gender M where 4005 says F; in no random split file
====  ====  =====================  ======================================================

and visits.csv also has a repeated 1001 row (dropped) and CSN 3004 (MRN 33) whose Arrival_time is 30 February
(dropped), so 3004's lab counts as "visit not in visits.csv". Lab and numeric times are around each visit's
arrival (2283-03-02T08:00:00Z for 1001's labs, 2199-12-31T23:50:00Z for 2003's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

VISIT_STAGE, LAB_STAGE, NUMERIC_STAGE = "mc-med visits", "mc-med labs", "mc-med numerics"

_VISIT_DEFAULTS = {
    "Visit_no": "1",
    "Visits": "1",
    "Age": "60",
    "Gender": "F",
    "Race": "White",
    "Ethnicity": "Non-Hispanic/Non-Latino",
    "Means_of_arrival": "Self",
    "Triage_Temp": "36.7",
    "Triage_HR": "80.0",
    "Triage_RR": "18.0",
    "Triage_SpO2": "99.0",
    "Triage_SBP": "128.0",
    "Triage_DBP": "78.0",
    "Triage_acuity": "3-Urgent",
    "CC": "CHEST PAIN",
    "ED_dispo": "Discharge",
    "Hours_to_next_visit": "",
    "Dispo_class_next_visit": "",
    "ED_LOS": "4.82",
    "Hosp_LOS": "",
    "DC_dispo": "Home/Work (includes foster care)",
    "Payor_class": "Medicare",
    "Admit_service": "",
    "Dx_ICD9": "786.50",
    "Dx_ICD10": "R07.9",
    "Dx_name": "Chest pain, unspecified type",
    "Roomed_time": "",
    "Dispo_time": "",
    "Admit_time": "",
    "Departure_time": "",
}


def _visit(mrn: str, csn: str, arrival: str, **fields: str) -> dict[str, str]:
    return {"MRN": mrn, "CSN": csn, **_VISIT_DEFAULTS, "Arrival_time": arrival, **fields}


VISITS = [
    _visit("11", "1001", "2283-03-02T07:36:59Z", Visits="2", Roomed_time="2283-03-02T07:50:00Z"),
    _visit("11", "1002", "2283-05-10T10:00:00Z", Visit_no="2", Visits="2", Hours_to_next_visit=""),
    _visit("22", "2003", "2199-12-31T23:30:00Z", Gender="M", Age="90", Triage_Temp="37.9"),
    _visit("33", "3004", "2283-02-30T01:00:00Z"),  # no such day: dropped
    _visit("11", "1001", "2283-03-02T07:36:59Z"),  # repeated CSN: dropped
    _visit("44", "4005", "2283-07-01T12:00:00Z", Visits="2", Triage_HR="n/a"),
    _visit("44", "4006", "2283-08-01T12:00:00Z", Visit_no="2", Visits="2", Gender="M"),
]

_T1001, _R1001 = "2283-03-02T08:00:00Z", "2283-03-02T08:45:00Z"
_T2003, _R2003 = "2199-12-31T23:50:00Z", "2200-01-01T00:40:00Z"
_T1002, _R1002 = "2283-05-10T11:00:00Z", "2283-05-10T11:30:00Z"


def _lab(
    csn: str, order: str, result: str, name: str, value: str, units: str, **fields: str
) -> dict[str, str]:
    row = {
        "CSN": csn,
        "Order_time": order,
        "Result_time": result,
        "Display_name": "Basic Metabolic Panel (BMP)",
        "Abnormal": "",
        "Component_name": name,
        "Component_result": value,
        "Component_value": value,
        "Component_units": units,
        "Component_abnormal": "",
        "Component_nml_low": "",
        "Component_nml_high": "",
    }
    row.update(fields)
    return row


LABS = [
    _lab(
        "1001",
        _T1001,
        _R1001,
        "POTASSIUM",
        "4.1",
        "mmol/L",
        Component_nml_low="3.5",
        Component_nml_high="5.1",
    ),
    _lab(
        "1001",
        _T1001,
        _R1001,
        "POTASSIUM",
        "4.1",
        "mmol/L",
        Component_nml_low="3.5",
        Component_nml_high="5.1",
    ),
    _lab("1001", _T1001, _R1001, "TROPONIN I", "<0.01", "ng/mL", Component_nml_high="0.04"),
    _lab("1001", _T1001, _R1001, "GLUCOSE", ">450", "mg/dL", Component_abnormal="High"),
    _lab("1001", _T1001, _R1001, "HCG, QUALITATIVE", "Negative", ""),
    _lab("1001", _T1001, _R1001, "SODIUM", "", "mmol/L", Component_result="See comment"),
    _lab("1001", _T1001, _R1001, "CREATININE", "<= 0.3", "mg/dL"),
    _lab("2003", _T2003, _R2003, "SODIUM", "140", "mmol/L"),
    _lab("2003", _T2003, _R2003, "SODIUM", "141", "mmol/L"),
    _lab("2003", _T2003, "not a time", "POTASSIUM", "5.6", "mmol/L", Component_abnormal="High"),
    _lab("8888", _T1001, _R1001, "POTASSIUM", "4.0", "mmol/L"),  # CSN not in visits.csv
    _lab("1002", "2283-05-10 11:00:00", _R1002, "POTASSIUM", "3.9", "mmol/L"),  # unparseable Order_time
    _lab("1002", _T1002, _R1002, "HEMOGLOBIN", "12.5", "g/dL", Component_nml_low="see note"),
    _lab("3004", _T1001, _R1001, "POTASSIUM", "4.4", "mmol/L"),  # its visit was dropped
    _lab("1002", _T1002, _R1002, "LACTATE", ">=4.0", "mmol/L"),
    _lab("1002", _T1002, _R1002, "CALCIUM", "___", "mg/dL"),
]

NUMERICS = [
    ("1001", "Monitor", "HR", "80", "2283-03-02T07:40:00Z"),
    ("1001", "Monitor", "HR", "80", "2283-03-02T07:40:00Z"),  # exact repeat
    ("1001", "Chart", "SBP", "120", "2283-03-02T07:41:00Z"),
    ("1001", "Chart", "Temp", "98.6", "2283-03-02T07:41:00Z"),
    ("1001", "Monitor", "Perf", "1.2", "2283-03-02T07:42:00Z"),  # not a default measure
    ("1001", "Chart", "Pain", "5", "2283-03-02T07:42:00Z"),  # not a default measure
    ("2003", "Monitor", "SpO2", "", "2199-12-31T23:58:00Z"),  # no value
    ("2003", "Monitor", "SpO2", "97", "2199-12-31T23:59:00Z"),
    ("2003", "Monitor", "RR", "18", ""),  # no time
    ("8888", "Monitor", "HR", "70", "2283-03-02T07:40:00Z"),  # CSN not in visits.csv
    ("1002", "Monitor", "MAP", "85.5", "2283-05-10T10:05:00Z"),
    ("1002", "Monitor", "DBP", "70", "2283-05-10T10:05:00Z"),
]

# split files: random ones with a CSN header, chrono ones without (both forms are read)
SPLITS = {
    ("random", "train"): ["1001", "1002"],
    ("random", "val"): ["2003"],
    ("random", "test"): ["4005", "9999", "3004"],  # 9999 never existed, 3004 was dropped
    ("chrono", "train"): ["1001", "2003", "4005", "4006"],
    ("chrono", "val"): ["1002"],
    ("chrono", "test"): ["1002"],  # 1002 in two files: no chrono split for it
}


def write_mcmed_tables(root: Path) -> dict[str, Any]:
    """Write the tables under ``root`` (created if needed); return the expected reading of them."""
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(VISITS).to_csv(root / "visits.csv", index=False)
    pd.DataFrame(LABS).to_csv(root / "labs.csv", index=False)
    pd.DataFrame(NUMERICS, columns=["CSN", "Source", "Measure", "Value", "Time"]).to_csv(
        root / "numerics.csv", index=False
    )
    for (scheme, split), csns in SPLITS.items():
        header = "CSN\n" if scheme == "random" else ""
        (root / f"split_{scheme}_{split}.csv").write_text(header + "".join(f"{c}\n" for c in csns))
    return {
        "visit_to_patient": {"1001": "11", "1002": "11", "2003": "22", "4005": "44", "4006": "44"},
        "visits_rows": len(VISITS),
        "labs_rows": len(LABS),
        "numerics_rows": len(NUMERICS),
        "numerics_in_scope": len(NUMERICS) - 2,
        "n_visits": 5,
        "n_patients": 3,
        "n_labs": 9,
        "n_vitals": 6,
        "split_random": {"1001": "train", "1002": "train", "2003": "val", "4005": "test", "4006": None},
        "split_chrono": {"1001": "train", "1002": None, "2003": "train", "4005": "train", "4006": "train"},
        # (stage, reason) -> count of rows dropped
        "drops": {
            (VISIT_STAGE, "duplicate CSN"): 1,
            (VISIT_STAGE, "unparseable time (Arrival_time)"): 1,
            ("mc-med split_random", "CSN not in visits.csv"): 2,
            ("mc-med split_chrono", "CSN in more than one split file"): 2,
            (LAB_STAGE, "visit not in visits.csv"): 2,
            (LAB_STAGE, "unparseable time (Order_time)"): 1,
            (LAB_STAGE, "non-numeric value"): 3,
            (LAB_STAGE, "duplicate row"): 1,
            (NUMERIC_STAGE, "visit not in visits.csv"): 1,
            (NUMERIC_STAGE, "missing time (Time)"): 1,
            (NUMERIC_STAGE, "non-numeric value"): 1,
            (NUMERIC_STAGE, "duplicate row"): 1,
        },
        # values set to missing, rows kept (also counted in the report's drops)
        "blanked": {
            (VISIT_STAGE, "non-numeric Triage_HR (set to missing, row kept)"): 1,
            (LAB_STAGE, "unparseable time (Result_time; set to missing, row kept)"): 1,
            (LAB_STAGE, "non-numeric Component_nml_low (set to missing, row kept)"): 1,
        },
        "notes": {
            (VISIT_STAGE, "patient with more than one Gender across visits (first visit's kept)"): 1,
            ("mc-med split_random", "visit in no split_random_*.csv file (split_random None)"): 1,
            ("mc-med split_chrono", "visit in no split_chrono_*.csv file (split_chrono None)"): 1,
            (LAB_STAGE, "rows sharing (patient_id, visit_id, lab, time) with different values (all kept)"): 2,
        },
    }
