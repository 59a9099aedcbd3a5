"""Real-waveform fixtures in the layouts the readers expect, built from PhysioNet records in ../shared/data.

- MIMIC-IV-ECG: the 12 standard leads of PTB's ``s0010_re`` (1000 Hz), resampled to 500 Hz, cut to 10 s,
  stored in MIMIC-IV-ECG's lead order (aVF before aVL), format 16, gain 200/mV, one record per row of a
  record list at the row's ``path``.
- MC-MED: lead II at 500 Hz from MIT-BIH ``100`` (MLII, 360 Hz) and CinC ``a103l`` (II, 250 Hz), written as
  ``waveforms/{last3}/{CSN}/II/{CSN}_{seg}`` records with the segment's start in the header.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from locations import SHARED_DATA
from scipy.signal import resample_poly

MIMIC_FILE_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")


def require_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real open data not found at {SHARED_DATA} (the ../shared/data folder beside the repo)")
    return SHARED_DATA


@cache
def s0010_twelve_leads() -> np.ndarray:
    """10 s of the 12 standard leads of s0010_re at 500 Hz in mV, samples x leads in MIMIC file order."""
    record = wfdb.rdrecord(str(SHARED_DATA / "wfdb-samples" / "s0010_re"))
    names = [name.lower() for name in record.sig_name]
    columns = [names.index(lead.lower()) for lead in MIMIC_FILE_ORDER]
    signal = resample_poly(record.p_signal[:, columns], 1, 2, axis=0)  # 1000 -> 500 Hz
    return np.round(signal[:5000] * 200) / 200  # on the 5-uV grid of gain 200


def _template(
    folder: Path, name: str, signal: np.ndarray, fs: float, leads: tuple[str, ...]
) -> tuple[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV"] * len(leads),
        sig_name=list(leads),
        p_signal=signal,
        fmt=["16"] * len(leads),
        adc_gain=[200.0] * len(leads),
        baseline=[0] * len(leads),
        write_dir=str(folder),
    )
    return (folder / f"{name}.hea").read_text(), (folder / f"{name}.dat").read_bytes()


def write_record_copy(target: Path, header: str, data: bytes, template_name: str, when: pd.Timestamp) -> None:
    """Write the template record as ``target`` (a record path without extension), starting at ``when``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = header.splitlines()
    first = lines[0].split()
    first[0] = target.name
    lines[0] = " ".join([*first[:4], when.strftime("%H:%M:%S"), when.strftime("%d/%m/%Y")])
    body = [line.replace(f"{template_name}.dat", f"{target.name}.dat", 1) for line in lines[1:]]
    target.with_suffix(".hea").write_text("\n".join([lines[0], *body]) + "\n")
    target.with_suffix(".dat").write_bytes(data)


def write_mimic_ecg_tree(root: Path, record_list: pd.DataFrame) -> None:
    """MIMIC-IV-ECG layout under ``root``: record_list.csv and one 12-lead record per row."""
    root.mkdir(parents=True, exist_ok=True)
    record_list.to_csv(root / "record_list.csv", index=False)
    header, data = _template(root / ".template", "template", s0010_twelve_leads(), 500, MIMIC_FILE_ORDER)
    for row in record_list.itertuples(index=False):
        write_record_copy(root / row.path, header, data, "template", pd.Timestamp(row.ecg_time))
    shutil.rmtree(root / ".template")


def demo_record_list() -> pd.DataFrame:
    return pd.read_csv(require_shared_data() / "mimic-iv-ecg-demo" / "record_list.csv", dtype=str)


@cache
def lead_ii_sources() -> dict[str, np.ndarray]:
    """Lead II at 500 Hz in mV from two real records: MIT-BIH 100 (MLII, 360 Hz), CinC a103l (II, 250 Hz)."""
    mitbih = wfdb.rdrecord(str(SHARED_DATA / "wfdb-samples" / "100"), channel_names=["MLII"])
    cinc = wfdb.rdrecord(str(SHARED_DATA / "wfdb-samples" / "a103l"), channel_names=["II"])
    return {
        "100": np.round(resample_poly(mitbih.p_signal[:, 0], 25, 18) * 200) / 200,
        "a103l": np.round(resample_poly(cinc.p_signal[:, 0], 2, 1) * 200) / 200,
    }


def write_mcmed_waveform(root: Path, csn: str, seg: int, signal_mv: np.ndarray, start: pd.Timestamp) -> Path:
    """One MC-MED lead-II segment record; returns its path without extension."""
    target = root / "waveforms" / csn[-3:] / csn / "II" / f"{csn}_{seg}"
    header, data = _template(root / ".template", "template", signal_mv[:, None], 500, ("II",))
    write_record_copy(target, header, data, "template", start)
    shutil.rmtree(root / ".template")
    return target
