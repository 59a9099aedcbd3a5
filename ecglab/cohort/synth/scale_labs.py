"""Lab rows of the scale cohorts: the 66 labs of the AnyECG-Lab panel with plausible values, vectorised.

Names and units are MC-MED's component names (the panel's), with each lab's MIMIC-IV hosp itemid and unit
string where MIMIC-IV has one. Values are log-normal around the reference range (normal for the osmolal
gap), with a per-patient level and a share abnormal per lab; nothing in them depends on the ECG. A blood
test measures a few common labs, a basic panel or a broad one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NAN = float("nan")

# name, unit, low, high (nan: no bound), MIMIC itemid ("" if none), MIMIC unit
LAB_TABLE: tuple[tuple[str, str, float, float, str, str], ...] = (
    ("ALBUMIN", "g/dL", 3.5, 5.0, "50862", "g/dL"),
    ("ALKALINE PHOSPHATASE", "U/L", 40.0, 150.0, "50863", "IU/L"),
    ("ALT (SGPT)", "U/L", NAN, 40.0, "50861", "IU/L"),
    ("AMMONIA, PLASMA", "umol/L", NAN, 50.0, "50866", "umol/L"),
    ("ANION GAP", "mmol/L", 8.0, 12.0, "50868", "mEq/L"),
    ("AST (SGOT)", "U/L", 10.0, 40.0, "50878", "IU/L"),
    ("BASOPHIL % (AUTO DIFF)", "%", NAN, 1.0, "51146", "%"),
    ("BILIRUBIN, TOTAL", "mg/dL", NAN, 1.2, "50885", "mg/dL"),
    ("BLOOD UREA NITROGEN (BUN)", "mg/dL", 7.0, 20.0, "51006", "mg/dL"),
    ("BNP, NT-PRO", "pg/mL", NAN, 300.0, "50963", "pg/mL"),
    ("C-REACTIVE PROTEIN (CRP)", "mg/dL", NAN, 1.0, "", ""),
    ("CALCIUM", "mg/dL", 8.5, 10.5, "50893", "mg/dL"),
    ("CALCIUM, IONIZED", "mmol/L", 1.1, 1.3, "50808", "mmol/L"),
    ("CHLORIDE", "mmol/L", 98.0, 106.0, "50902", "mEq/L"),
    ("CHOL/LDLD RATIO", "ratio", 3.0, NAN, "", ""),
    ("CHOLESTEROL, DIRECT LDL", "mg/dL", NAN, 130.0, "50906", "mg/dL"),
    ("CHOLESTEROL, HDL", "mg/dL", 40.0, NAN, "50904", "mg/dL"),
    ("CHOLESTEROL, NON-HDL (CALCULATED)", "mg/dL", NAN, 130.0, "", ""),
    ("CHOLESTEROL, TOTAL", "mg/dL", NAN, 200.0, "50907", "mg/dL"),
    ("CHOLESTEROL/HDL", "ratio", NAN, 5.0, "50903", "Ratio"),
    ("CK, TOTAL", "U/L", 30.0, 250.0, "50910", "IU/L"),
    ("CO2", "mmol/L", 22.0, 29.0, "50882", "mEq/L"),
    ("CORRECTED CALCIUM", "mg/dL", 8.5, 10.5, "", ""),
    ("CREATININE", "mg/dL", 0.6, 1.3, "50912", "mg/dL"),
    ("D-DIMER", "ug/mL FEU", NAN, 0.5, "", ""),
    ("D-DIMER, ELISA", "ng/mL FEU", NAN, 500.0, "50915", "ng/mL"),
    ("EOSINOPHIL % (AUTO DIFF)", "%", NAN, 5.0, "51200", "%"),
    ("ESR (AUTOMATED)", "mm/hr", NAN, 29.0, "51288", "mm/hr"),
    ("ETHANOL.SER/PLAS", "mg/dL", NAN, 10.0, "50922", "mg/dL"),
    ("FERRITIN", "ng/mL", 13.0, 400.0, "50924", "ng/mL"),
    ("FREE THYROXINE", "ng/dL", 0.8, 1.8, "50995", "ng/dL"),
    ("GLOBULIN", "g/dL", 2.0, 3.5, "50930", "g/dL"),
    ("GLUCOSE", "mg/dL", 70.0, 140.0, "50931", "mg/dL"),
    ("HEMATOCRIT (HCT)", "%", 36.0, 50.0, "51221", "%"),
    ("HIGH SENSITIVITY TROPONIN", "ng/L", NAN, 14.0, "", ""),
    ("IMMATURE GRANULOCYTE % (AUTODIFF) WAM", "%", NAN, 1.0, "52135", "%"),
    ("IRON, TOTAL", "ug/dL", 50.0, 175.0, "50952", "ug/dL"),
    ("IRON>TIBC RATIO", "RATIO", 0.15, 0.5, "", ""),
    ("LACTATE.WHOLE BLD", "mmol/L", NAN, 2.0, "50813", "mmol/L"),
    ("LDH, TOTAL", "U/L", 140.0, 280.0, "50954", "IU/L"),
    ("LIPASE", "U/L", NAN, 160.0, "50956", "IU/L"),
    ("LYMPHOCYTE % (AUTO DIFF)", "%", 20.0, 40.0, "51244", "%"),
    ("MAGNESIUM", "mg/dL", 1.7, 2.2, "50960", "mg/dL"),
    ("MEAN CORPUSCULAR VOLUME (MCV)", "fL", 80.0, 100.0, "51250", "fL"),
    ("MONOCYTE % (AUTO DIFF)", "%", 2.0, 10.0, "51254", "%"),
    ("NEUTROPHIL % (AUTO DIFF)", "%", 40.0, 75.0, "51256", "%"),
    ("OSMOLAL GAP, SER/PLAS", "mOsm/kg", 0.0, 10.0, "", ""),
    ("OSMOLALITY, CALCULATED", "mOsm/kg", 275.0, 295.0, "", ""),
    ("OSMOLALITY, SERUM", "mOsm/kg", 275.0, 295.0, "50964", "mOsm/kg"),
    ("PART. THROMBOPLASTIN TIME", "seconds", 25.0, 35.0, "51275", "sec"),
    ("PHOSPHORUS", "mg/dL", 2.5, 4.5, "50970", "mg/dL"),
    ("PLATELET COUNT (PLT)", "K/uL", 150.0, 450.0, "51265", "K/uL"),
    ("POTASSIUM", "mmol/L", 3.5, 5.0, "50971", "mEq/L"),
    ("PROCALCITONIN", "ng/mL", NAN, 0.05, "", ""),
    ("PROTEIN, TOTAL", "g/dL", 6.0, 8.0, "50976", "g/dL"),
    ("PROTHROMBIN TIME", "seconds", 11.0, 13.5, "51274", "sec"),
    ("RED BLOOD CELLS (RBC)", "MIL/uL", 3.5, 5.7, "51279", "m/uL"),
    ("RED CELL DISTRIBUTION WIDTH (RDW)", "%", 11.5, 14.5, "51277", "%"),
    ("SODIUM", "mmol/L", 135.0, 145.0, "50983", "mEq/L"),
    ("TIBC", "ug/dL", 250.0, 450.0, "50953", "ug/dL"),
    ("TRANSFERRIN SATURATION", "%", 20.0, 50.0, "", ""),
    ("TRIGLYCERIDE", "mg/dL", NAN, 150.0, "51000", "mg/dL"),
    ("TROPONIN I", "ng/mL", NAN, 0.04, "", ""),
    ("TSH", "uIU/mL", 0.27, 4.2, "50993", "uIU/mL"),
    ("UIBC", "ug/dL", 250.0, 450.0, "", ""),
    ("WHITE BLOOD CELLS (WBC)", "K/uL", 4.0, 10.0, "51301", "K/uL"),
)

# measured by most blood tests (basic metabolic panel, blood count and differential, liver enzymes)
COMMON_LABS = frozenset(
    {
        "SODIUM",
        "POTASSIUM",
        "CHLORIDE",
        "CO2",
        "BLOOD UREA NITROGEN (BUN)",
        "CREATININE",
        "GLUCOSE",
        "CALCIUM",
        "ANION GAP",
        "HEMATOCRIT (HCT)",
        "WHITE BLOOD CELLS (WBC)",
        "PLATELET COUNT (PLT)",
        "RED BLOOD CELLS (RBC)",
        "MEAN CORPUSCULAR VOLUME (MCV)",
        "RED CELL DISTRIBUTION WIDTH (RDW)",
        "NEUTROPHIL % (AUTO DIFF)",
        "LYMPHOCYTE % (AUTO DIFF)",
        "MONOCYTE % (AUTO DIFF)",
        "EOSINOPHIL % (AUTO DIFF)",
        "BASOPHIL % (AUTO DIFF)",
        "ALT (SGPT)",
        "AST (SGOT)",
    }
)
# (share of tests, probability a common lab is measured, probability another lab is)
TEST_KINDS = ((0.55, 0.25, 0.01), (0.30, 0.85, 0.05), (0.15, 0.95, 0.35))
CHUNK_TESTS = 200_000


@dataclass(frozen=True)
class LabSet:
    """The labs one scale shape writes, as arrays over labs."""

    code: np.ndarray  # object: the lab code the store keeps (component name or itemid)
    name: np.ndarray  # object: MC-MED component name
    unit: np.ndarray  # object
    ref_low: np.ndarray
    ref_high: np.ndarray
    center: np.ndarray  # model scale (log for log-normal labs)
    sd: np.ndarray
    log_scale: np.ndarray  # bool
    decimals: np.ndarray
    common: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.code)


def _model(low: float, high: float) -> tuple[float, float, bool]:
    """(center, sd, log scale) giving roughly 10-25 % of values outside the range."""
    if np.isfinite(low) and low <= 0:
        return (low + high) / 2, (high - low) / 2.6, False
    if np.isfinite(low) and np.isfinite(high):
        return float(np.log(np.sqrt(low * high))), float(np.log(high / low) / 2.6), True
    if np.isfinite(high):
        return float(np.log(0.6 * high)), 0.5, True
    return float(np.log(1.5 * low)), 0.35, True


def lab_set(mimic: bool) -> LabSet:
    """The 66 panel labs (MC-MED codes), or the 53 with a MIMIC-IV itemid (itemid codes, MIMIC units)."""
    rows = [row for row in LAB_TABLE if row[4] or not mimic]
    models = [_model(low, high) for _, _, low, high, _, _ in rows]
    center = np.array([m[0] for m in models])
    log_scale = np.array([m[2] for m in models])
    typical = np.where(log_scale, np.exp(center), np.abs(center) + 1)
    return LabSet(
        code=np.array([r[4] if mimic else r[0] for r in rows], dtype=object),
        name=np.array([r[0] for r in rows], dtype=object),
        unit=np.array([r[5] if mimic else r[1] for r in rows], dtype=object),
        ref_low=np.array([r[2] for r in rows], dtype=np.float64),
        ref_high=np.array([r[3] for r in rows], dtype=np.float64),
        center=center,
        sd=np.array([m[1] for m in models]),
        log_scale=log_scale,
        decimals=np.clip(2 - np.floor(np.log10(typical)).astype(int), 0, 4),
        common=np.array([r[0] in COMMON_LABS for r in rows]),
    )


def measured_mask(rng: np.random.Generator, n_tests: int, labs: LabSet) -> np.ndarray:
    """Tests x labs: which labs each test measures (a few common ones, a basic panel or a broad one)."""
    shares = np.array([k[0] for k in TEST_KINDS])
    kind = rng.choice(len(TEST_KINDS), size=n_tests, p=shares / shares.sum())
    p_common = np.array([k[1] for k in TEST_KINDS])[kind]
    p_other = np.array([k[2] for k in TEST_KINDS])[kind]
    prob = np.where(labs.common[None, :], p_common[:, None], p_other[:, None])
    return rng.random((n_tests, len(labs)), dtype=np.float32) < prob


def lab_rows(
    rng: np.random.Generator,
    labs: LabSet,
    test_patient: np.ndarray,
    test_visit: np.ndarray,
    test_us: np.ndarray,
    patient_ids: np.ndarray,
    visit_ids: np.ndarray,
    flags: tuple[str, str, str],
) -> pd.DataFrame:
    """The labs table of blood tests (patient index, visit index or -1, time in us), in chunks of tests.

    ``flags`` are the source flags written for (low, high, in range) values.
    """
    n_patients = len(patient_ids)
    level = rng.standard_normal((n_patients, len(labs))).astype(np.float32)
    chunks = []
    for first in range(0, len(test_us), CHUNK_TESTS):
        part = slice(first, first + CHUNK_TESTS)
        test, lab = np.nonzero(measured_mask(rng, len(test_us[part]), labs))
        test = test + first
        z = 0.75 * level[test_patient[test], lab] + 0.66 * rng.standard_normal(len(test))
        model = labs.center[lab] + labs.sd[lab] * z
        value = _rounded(np.where(labs.log_scale[lab], np.exp(model), model), labs.decimals[lab])
        chunks.append((test, lab, value))
    test = np.concatenate([c[0] for c in chunks])
    lab = np.concatenate([c[1] for c in chunks])
    value = np.concatenate([c[2] for c in chunks])
    low, high = labs.ref_low[lab], labs.ref_high[lab]
    flag_codes = np.where(value < low, 0, np.where(value > high, 1, 2))
    visit = test_visit[test]
    time_us = test_us[test]
    return pd.DataFrame(
        {
            "patient_id": patient_ids[test_patient[test]],
            "visit_id": np.append(visit_ids, None).astype(object)[visit],  # -1: no visit
            "time": pd.Series(time_us.view("datetime64[us]")),
            "lab": labs.code[lab],
            "lab_name": labs.name[lab],
            "value": value,
            "censored": np.full(len(test), "", dtype=object),
            "unit": labs.unit[lab],
            "ref_low": low,
            "ref_high": high,
            "source_flag": np.array(flags, dtype=object)[flag_codes],
            "result_time": pd.Series(
                (time_us + _result_delay_us(rng, len(test), test)).view("datetime64[us]")
            ),
        }
    )


def _rounded(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    scale = 10.0**decimals
    return np.round(values * scale) / scale


def _result_delay_us(rng: np.random.Generator, n: int, test: np.ndarray) -> np.ndarray:
    """20-90 minutes from draw to result, one delay per blood test."""
    per_test = rng.integers(20 * 60_000_000, 90 * 60_000_000, size=int(test.max()) + 1 if n else 0)
    return per_test[test] if n else np.zeros(0, dtype=np.int64)
