"""Regenerate ``ecglab/tasks/catalogues/anyecg_lab.csv`` (the AnyECG-Lab panel) from its sources.

The CSV is the data of record; this script documents how it was made and re-checks it. Inputs:

* the published AnyECG-Lab Table 2 (1-h window): ``ecglab/leaderboards/reference/anyecg_lab_1h_published.csv``
  gives the 108 targets (66 MC-MED ``Component_name`` x low/high), thresholds and units;
* the hand-curated MC-MED -> MIMIC-IV mapping in ``MIMIC`` below;
* the real MIMIC-IV demo ``hosp/d_labitems.csv.gz`` (label, fluid, category of every itemid) and
  ``hosp/labevents.csv.gz`` (the dominant ``valueuom`` of every mapped itemid must equal the declared unit).

Mapping rules: an itemid is mapped only when it measures the same quantity, in blood, in the same unit as
MC-MED (unit spellings that mean the same unit are accepted: mEq/L = mmol/L for monovalent ions, IU/L = U/L,
m/uL = MIL/uL, sec = seconds) and has rows in the demo, so that its unit could be checked. Chemistry
(serum/plasma) items are preferred over blood-gas whole-blood items unless MC-MED's test is itself a
whole-blood one (ionized calcium, lactate). Items with the same label and fluid but no demo rows (mostly the
52xxx/53xxx duplicates) are listed in the note, not mapped.

Usage (from the repository root): ``python ecglab/tasks/catalogues/build_anyecg_lab.py [--mimic-demo DIR]``
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[3]
PUBLISHED = REPO / "ecglab" / "leaderboards" / "reference" / "anyecg_lab_1h_published.csv"
OUTPUT = Path(__file__).resolve().parent / "anyecg_lab.csv"
DEFAULT_MIMIC_DEMO = REPO.parent / "shared" / "data" / "mimic-iv-demo"

COLUMNS = [
    "target",
    "lab",
    "direction",
    "threshold",
    "unit",
    "mcmed_component",
    "mimic_itemids",
    "mimic_fluid",
    "mimic_category",
    "mimic_label",
    "mimic_unit",
    "mimic_note",
]

SAME_UNIT = "mEq/L = mmol/L (monovalent ion)."
IU = "IU/L = U/L."

# MC-MED Component_name -> (MIMIC-IV hosp itemids, MIMIC valueuom, note). Empty itemids: no equivalent.
MIMIC: dict[str, tuple[tuple[int, ...], str, str]] = {
    "ALBUMIN": ((50862,), "g/dL", "Blood chemistry albumin; urine/body-fluid albumin items excluded."),
    "ALKALINE PHOSPHATASE": ((50863,), "IU/L", IU),
    "ALT (SGPT)": ((50861,), "IU/L", IU),
    "AMMONIA, PLASMA": ((50866,), "umol/L", ""),
    "ANION GAP": (
        (50868,),
        "mEq/L",
        "mEq/L = mmol/L. MIMIC's reference range (8-20, some rows 10-18) is wider than MC-MED's 8-12 "
        "thresholds: the two laboratories' anion-gap conventions may differ; values are used as reported.",
    ),
    "AST (SGOT)": ((50878,), "IU/L", IU + " MIMIC spells the label 'Asparate Aminotransferase (AST)'."),
    "BASOPHIL % (AUTO DIFF)": ((51146,), "%", "Percent of WBC; the absolute count 52069 (K/uL) is excluded."),
    "BILIRUBIN, TOTAL": ((50885,), "mg/dL", ""),
    "BLOOD UREA NITROGEN (BUN)": ((51006,), "mg/dL", ""),
    "BNP, NT-PRO": ((50963,), "pg/mL", ""),
    "C-REACTIVE PROTEIN (CRP)": (
        (),
        "",
        "Unit differs, not mapped: MIMIC 50889 'C-Reactive Protein' (Blood) is in mg/L "
        "(1.0 mg/dL = 10 mg/L); 51652 'High-Sensitivity CRP' has no rows in the demo.",
    ),
    "CALCIUM": ((50893,), "mg/dL", "MIMIC 'Calcium, Total'."),
    "CALCIUM, IONIZED": (
        (50808,),
        "mmol/L",
        "Blood-gas 'Free Calcium' (whole blood), the only ionized calcium with data in the demo.",
    ),
    "CHLORIDE": ((50902,), "mEq/L", SAME_UNIT + " Blood-gas whole-blood chloride 50806 excluded."),
    "CHOL/LDLD RATIO": ((), "", "No MIMIC-IV item; derivable as 50907 / 50906 (total / measured LDL)."),
    "CHOLESTEROL, DIRECT LDL": (
        (50906,),
        "mg/dL",
        "'Cholesterol, LDL, Measured'; the Friedewald estimate 50905 (LDL, Calculated) is excluded.",
    ),
    "CHOLESTEROL, HDL": ((50904,), "mg/dL", ""),
    "CHOLESTEROL, NON-HDL (CALCULATED)": ((), "", "No MIMIC-IV item; derivable as 50907 - 50904."),
    "CHOLESTEROL, TOTAL": ((50907,), "mg/dL", ""),
    "CHOLESTEROL/HDL": ((50903,), "Ratio", "'Cholesterol Ratio (Total/HDL)'."),
    "CK, TOTAL": ((50910,), "IU/L", IU),
    "CO2": (
        (50882,),
        "mEq/L",
        "MIMIC labels serum total CO2 'Bicarbonate' (Chemistry); mEq/L = mmol/L. Blood-gas 50803/50804 "
        "(calculated bicarbonate / total CO2) excluded; 51739 'Total CO2' has no rows in the demo.",
    ),
    "CORRECTED CALCIUM": (
        (),
        "",
        "No MIMIC-IV item; derivable from 50893 (calcium) and 50862 (albumin), but MC-MED's formula is not "
        "published.",
    ),
    "CREATININE": ((50912,), "mg/dL", "Blood chemistry; blood-gas 52024 and urine items excluded."),
    "D-DIMER": (
        (),
        "",
        "Unit differs, not mapped: MC-MED reports ug/mL FEU, MIMIC D-dimer (50915, 51196) is in ng/mL "
        "(x1000); see D-DIMER, ELISA.",
    ),
    "D-DIMER, ELISA": (
        (50915,),
        "ng/mL",
        "50915 reports 'ng/mL' (6 demo rows) and 'ng/mL FEU' (3) with one reference range (0-500) and a "
        "VTE-exclusion comment at 500, so taken as FEU (not proven). 51196 (Hematology, 'ng/mL FEU', 1 demo "
        "row) not mapped: a second unit string.",
    ),
    "EOSINOPHIL % (AUTO DIFF)": ((51200,), "%", "Percent of WBC; absolute count 52073 excluded."),
    "ESR (AUTOMATED)": ((51288,), "mm/hr", "'Sedimentation Rate'; the method is not stated in MIMIC."),
    "ETHANOL.SER/PLAS": ((50922,), "mg/dL", "Blood ethanol; urine ethanol 51083 excluded."),
    "FERRITIN": ((50924,), "ng/mL", ""),
    "FREE THYROXINE": ((50995,), "ng/dL", "'Thyroxine (T4), Free'."),
    "GLOBULIN": ((50930,), "g/dL", ""),
    "GLUCOSE": ((50931,), "mg/dL", "Blood chemistry glucose; blood-gas 50809 and urine items excluded."),
    "HEMATOCRIT (HCT)": (
        (51221,),
        "%",
        "Haematology analyser; blood-gas 'Hematocrit, Calculated' 50810 excluded.",
    ),
    "HIGH SENSITIVITY TROPONIN": (
        (),
        "",
        "No MIMIC-IV equivalent: MIMIC measures conventional Troponin T (51003, ng/mL, upper reference "
        "0.01), not a high-sensitivity troponin in ng/L.",
    ),
    "IMMATURE GRANULOCYTE % (AUTODIFF) WAM": (
        (52135,),
        "%",
        "'Immature Granulocytes' (%); 120 of its 227 demo rows have no reference range.",
    ),
    "IRON, TOTAL": ((50952,), "ug/dL", ""),
    "IRON>TIBC RATIO": ((), "", "No MIMIC-IV item; derivable as 50952 / 50953 (iron / TIBC)."),
    "LACTATE.WHOLE BLD": ((50813,), "mmol/L", "Blood-gas (whole-blood) lactate."),
    "LDH, TOTAL": ((50954,), "IU/L", IU + " 'Lactate Dehydrogenase (LD)'."),
    "LIPASE": ((50956,), "IU/L", IU),
    "LYMPHOCYTE % (AUTO DIFF)": (
        (51244, 51245),
        "%",
        "'Lymphocytes' and 'Lymphocytes, Percent', both % of WBC (as in mimic-code's blood_differential).",
    ),
    "MAGNESIUM": ((50960,), "mg/dL", ""),
    "MEAN CORPUSCULAR VOLUME (MCV)": ((51250,), "fL", ""),
    "MONOCYTE % (AUTO DIFF)": ((51254,), "%", "Percent of WBC; absolute count 52074 excluded."),
    "NEUTROPHIL % (AUTO DIFF)": ((51256,), "%", "Percent of WBC; absolute count 52075 excluded."),
    "OSMOLAL GAP, SER/PLAS": (
        (),
        "",
        "No MIMIC-IV item; would need measured (50964) minus calculated osmolality (51701, no rows in "
        "the demo).",
    ),
    "OSMOLALITY, CALCULATED": (
        (),
        "",
        "Not mapped: d_labitems has 51701 'Osmolality, Calculated' (Blood, Chemistry) but it has no rows in "
        "the demo, so its unit cannot be checked.",
    ),
    "OSMOLALITY, SERUM": ((50964,), "mOsm/kg", "'Osmolality, Measured'."),
    "PART. THROMBOPLASTIN TIME": ((51275,), "sec", "'PTT'; sec = seconds."),
    "PHOSPHORUS": ((50970,), "mg/dL", "MIMIC label 'Phosphate' (inorganic phosphorus, mg/dL)."),
    "PLATELET COUNT (PLT)": ((51265,), "K/uL", ""),
    "POTASSIUM": (
        (50971,),
        "mEq/L",
        SAME_UNIT + " Chemistry (serum/plasma) potassium, like MC-MED's POTASSIUM; blood-gas whole-blood "
        "potassium 50822 is a different specimen and analyser and is excluded.",
    ),
    "PROCALCITONIN": ((), "", "No MIMIC-IV equivalent: no procalcitonin item in d_labitems."),
    "PROTEIN, TOTAL": ((50976,), "g/dL", ""),
    "PROTHROMBIN TIME": ((51274,), "sec", "'PT'; sec = seconds."),
    "RED BLOOD CELLS (RBC)": ((51279,), "m/uL", "m/uL = MIL/uL (10^6/uL)."),
    "RED CELL DISTRIBUTION WIDTH (RDW)": ((51277,), "%", "RDW-CV (%); RDW-SD 52172 (fL) excluded."),
    "SODIUM": ((50983,), "mEq/L", SAME_UNIT + " Blood-gas whole-blood sodium 50824 excluded."),
    "TIBC": ((50953,), "ug/dL", "'Iron Binding Capacity, Total'; Transferrin 50998 (mg/dL) excluded."),
    "TRANSFERRIN SATURATION": (
        (),
        "",
        "Not mapped: d_labitems has 51746 'Transferrin Saturation' (Blood, Chemistry) but it has no rows in "
        "the demo (unit unverifiable); derivable as 100 * 50952 / 50953.",
    ),
    "TRIGLYCERIDE": ((51000,), "mg/dL", "'Triglycerides'."),
    "TROPONIN I": (
        (),
        "",
        "No MIMIC-IV equivalent: MIMIC measures Troponin T (51003), not I; Troponin I items 51002 and 52642 "
        "have no rows in the demo.",
    ),
    "TSH": ((50993,), "uIU/mL", ""),
    "UIBC": ((), "", "No MIMIC-IV item; derivable as 50953 - 50952 (TIBC - iron)."),
    "WHITE BLOOD CELLS (WBC)": (
        (51301, 51300),
        "K/uL",
        "'White Blood Cells' and 'WBC Count', both K/uL (as in mimic-code).",
    ),
}


def target_id(lab: str, direction: str) -> str:
    """Stable target id: the lab name in lower case, non-alphanumeric runs as '_', then '_low' / '_high'."""
    slug = re.sub(r"[^0-9a-z]+", "_", lab.lower()).strip("_")
    return f"{slug}_{direction}"


def dominant_units(labevents: Path, itemids: set[int]) -> dict[int, str]:
    """Most frequent valueuom per itemid in the demo ('' when the unit is empty)."""
    events = pd.read_csv(
        labevents, usecols=["itemid", "valueuom"], dtype={"valueuom": str}, keep_default_na=False
    )
    events = events[events["itemid"].isin(itemids)]
    return {int(i): str(g["valueuom"].value_counts().index[0]) for i, g in events.groupby("itemid")}


def build(mimic_demo: Path) -> pd.DataFrame:
    published = pd.read_csv(PUBLISHED)
    missing = sorted(set(published["lab"]) ^ set(MIMIC))
    if missing:
        raise ValueError(f"MIMIC mapping and published labs differ: {missing}")
    items = pd.read_csv(
        mimic_demo / "hosp" / "d_labitems.csv.gz", dtype={"label": str, "fluid": str}
    ).set_index("itemid")
    mapped = {i for ids, _, _ in MIMIC.values() for i in ids}
    units = dominant_units(mimic_demo / "hosp" / "labevents.csv.gz", set(items.index))
    rows = []
    for rec in published.itertuples(index=False):
        itemids, mimic_unit, note = MIMIC[rec.lab]
        meta = items.loc[list(itemids)]
        for itemid in itemids:
            if units.get(itemid) != mimic_unit or meta.loc[itemid, "fluid"] != "Blood":
                raise ValueError(
                    f"{rec.lab}: itemid {itemid} has unit {units.get(itemid)!r}, not {mimic_unit!r}"
                )
        same = items[
            items["label"].isin(meta["label"])
            & items["fluid"].isin(meta["fluid"])
            & ~items.index.isin(mapped)
        ]
        unseen = [str(i) for i in same.index if i not in units]
        if unseen:
            note = f"{note} Same label without demo rows, not mapped: {', '.join(unseen)}.".strip()
        if not itemids and not note:
            raise ValueError(f"{rec.lab}: no itemids and no note")
        rows.append(
            {
                "target": target_id(rec.lab, rec.direction),
                "lab": rec.lab,
                "direction": rec.direction,
                "threshold": rec.threshold,
                "unit": rec.unit,
                "mcmed_component": rec.lab,
                "mimic_itemids": ";".join(str(i) for i in itemids),
                "mimic_fluid": ";".join(sorted(set(meta["fluid"]))),
                "mimic_category": ";".join(sorted(set(meta["category"]))),
                "mimic_label": ";".join(meta["label"]),
                "mimic_unit": mimic_unit,
                "mimic_note": note,
            }
        )
    panel = pd.DataFrame(rows, columns=COLUMNS)
    order = {"low": 0, "high": 1}
    return panel.sort_values(["lab", "direction"], key=lambda s: s.map(order) if s.name == "direction" else s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mimic-demo", type=Path, default=DEFAULT_MIMIC_DEMO)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    panel = build(args.mimic_demo)
    panel.to_csv(args.output, index=False, lineterminator="\n")
    print(f"wrote {len(panel)} targets ({panel['lab'].nunique()} labs) to {args.output}")


if __name__ == "__main__":
    main()
