"""Variants of the synthetic cohort for external validation: another lab coding and a shifted population.

Lab coding (``SynthConfig.lab_coding``, ``ecglab cohort synth --lab-coding``):

- ``mcmed`` (default): labs named by MC-MED component (``POTASSIUM``), in the catalogue's units;
- ``mimic-iv``: the same planted labs coded by their MIMIC-IV hosp itemid (``POTASSIUM`` -> ``50971``), with
  MIMIC-IV's unit strings (``mEq/L`` for potassium, ``IU/L`` for ALT and lipase) and its ``lab_name``,
  ``fluid`` and ``category`` columns, as the MIMIC-IV reader writes them; ``cohort.json`` says
  ``extra.lab_coding = "mimic-iv"``, so a task's panel resolves through itemids. The itemids are those of the
  AnyECG-Lab catalogue (hemoglobin, not in that panel: MIMIC-IV's 51222); a test checks they agree. Values
  do not change: every pair is one unit spelt two ways.

Population shift (``SynthConfig.shift``, ``--shift``), recorded in cohort.json (``extra.synthetic.shift``):

- ``none`` (default): the population of the plain synthetic cohort;
- ``older-sicker``: ages 45 to 95 (18 to 90), 40 % women (50 %), potassium levels 0.3 mmol/L higher (more
  hyperkalaemia) and hemoglobin 1.2 g/dL lower (more anaemia), 1.5 x the ECG noise and 0.9 x the amplitude:
  another site's patients and monitors;
- ``noisy``: the same population with 2 x the noise and 0.8 x the amplitude (another monitor only).

The physiology (how labs shape the ECG) is the same in every variant: a shifted cohort tests a model's
transfer, not a different biology. Defaults leave the store byte-identical to one written before variants.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

LAB_CODINGS = ("mcmed", "mimic-iv")

# MC-MED lab name -> (MIMIC-IV itemid, label, unit string, fluid, category)
MIMIC_CODES: dict[str, tuple[str, str, str, str, str]] = {
    "POTASSIUM": ("50971", "Potassium", "mEq/L", "Blood", "Chemistry"),
    "CALCIUM": ("50893", "Calcium, Total", "mg/dL", "Blood", "Chemistry"),
    "MAGNESIUM": ("50960", "Magnesium", "mg/dL", "Blood", "Chemistry"),
    "HEMOGLOBIN": ("51222", "Hemoglobin", "g/dL", "Blood", "Hematology"),
    "SODIUM": ("50983", "Sodium", "mEq/L", "Blood", "Chemistry"),
    "GLUCOSE": ("50931", "Glucose", "mg/dL", "Blood", "Chemistry"),
    "LIPASE": ("50956", "Lipase", "IU/L", "Blood", "Chemistry"),
    "ALT (SGPT)": ("50861", "Alanine Aminotransferase (ALT)", "IU/L", "Blood", "Chemistry"),
    "HEMATOCRIT (HCT)": ("51221", "Hematocrit", "%", "Blood", "Hematology"),
}


@dataclass(frozen=True)
class Shift:
    """A population shift: who the patients are, their lab levels (added on each lab's model scale) and
    the recording quality."""

    age_range: tuple[float, float] = (18.0, 90.0)
    female_prob: float = 0.5
    level_offsets: dict[str, float] = field(default_factory=dict)
    noise_scale: float = 1.0
    amplitude_scale: float = 1.0

    def record(self) -> dict:
        """The shift as JSON data for cohort.json."""
        data = asdict(self)
        data["age_range"] = list(self.age_range)
        return data


SHIFTS: dict[str, Shift] = {
    "none": Shift(),
    "older-sicker": Shift(
        age_range=(45.0, 95.0),
        female_prob=0.4,
        level_offsets={"POTASSIUM": 0.3, "HEMOGLOBIN": -1.2},
        noise_scale=1.5,
        amplitude_scale=0.9,
    ),
    "noisy": Shift(noise_scale=2.0, amplitude_scale=0.8),
}


def level_offsets(shift: Shift, labs: tuple[str, ...]) -> np.ndarray:
    """The shift's offsets as one value per lab model (0 where it does not move the lab)."""
    return np.array([shift.level_offsets.get(lab, 0.0) for lab in labs], dtype=np.float64)


def with_coding(labs: pd.DataFrame, coding: str) -> pd.DataFrame:
    """The synthetic labs table in ``coding``: unchanged for ``mcmed``; for ``mimic-iv`` the lab codes,
    unit strings, labels, fluids and categories of MIMIC-IV (module docstring), vectorised per lab."""
    if coding == "mcmed":
        return labs
    if coding != "mimic-iv":
        raise ValueError(f"lab coding must be one of {LAB_CODINGS}, got {coding!r}")
    unknown = sorted(set(labs["lab"]) - set(MIMIC_CODES))
    if unknown:
        raise ValueError(f"no MIMIC-IV itemid for synthetic labs {unknown}")
    out = labs.copy()
    names = labs["lab"]
    for position, column in ((0, "lab"), (2, "unit")):
        out[column] = names.map({k: v[position] for k, v in MIMIC_CODES.items()})
    at = list(out.columns).index("lab") + 1
    for offset, (position, column) in enumerate(((1, "lab_name"), (3, "fluid"), (4, "category"))):
        out.insert(at + offset, column, names.map({k: v[position] for k, v in MIMIC_CODES.items()}))
    return out
