"""A MEDS dataset written from the real MIMIC-IV demo tables (../shared/data/mimic-iv-demo/hosp), as the MEDS
MIMIC-IV ETLs write one, and WFDB records of the demo's ECG times for ``ecglab cohort meds``.

- labevents -> ``LAB//<itemid>//<valueuom>`` (``UNK`` without a unit) at ``charttime``, ``numeric_value`` the
  ``valuenum`` as float32 (MEDS's type; null when blank), ``text_value`` the ``value`` text (null when blank);
- patients -> ``GENDER//<gender>`` (no time), ``MEDS_BIRTH`` on 1 January of anchor_year - anchor_age,
  ``MEDS_DEATH`` at ``dod``;
- admissions -> ``HOSPITAL_ADMISSION//<admission_type>`` at admittime, ``HOSPITAL_DISCHARGE//<location>`` at
  dischtime (not read as labs: the reader counts them by prefix);
- shards ``data/<split>/0.parquet``, ``metadata/subject_splits.parquet`` (60/20/20 of the sorted subjects,
  train/tuning/held_out), ``metadata/codes.parquet`` (each LAB code's d_labitems label as its description),
  ``metadata/dataset.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from locations import SHARED_DATA

HOSP = SHARED_DATA / "mimic-iv-demo" / "hosp"
SCHEMA = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("time", pa.timestamp("us")),
        ("code", pa.string()),
        ("numeric_value", pa.float32()),
        ("text_value", pa.string()),
    ]
)
MEDS_SPLITS = ("train", "tuning", "held_out")


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(HOSP / f"{name}.csv.gz", dtype=str, keep_default_na=False)


def _times(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text.replace("", None), format="%Y-%m-%d %H:%M:%S").astype("datetime64[us]")


def _events(
    subject: pd.Series, time: pd.Series | None, code: pd.Series, number=None, text=None
) -> pd.DataFrame:
    n = len(code)
    return pd.DataFrame(
        {
            "subject_id": subject.astype(np.int64).to_numpy(),
            "time": time.to_numpy()
            if time is not None
            else np.full(n, np.datetime64("NaT"), "datetime64[us]"),
            "code": code.to_numpy(dtype=object),
            "numeric_value": np.full(n, np.nan, np.float32) if number is None else number,
            "text_value": np.full(n, None, object) if text is None else text,
        }
    )


def mimic_demo_events() -> pd.DataFrame:
    """Every MEDS event of the demo's labevents, patients and admissions."""
    labs = _read("labevents")
    unit = labs["valueuom"].where(labs["valueuom"] != "", "UNK")
    number = pd.to_numeric(labs["valuenum"].replace("", None)).to_numpy(np.float64).astype(np.float32)
    text = labs["value"].where(labs["value"] != "", None).to_numpy(dtype=object)
    parts = [
        _events(
            labs["subject_id"],
            _times(labs["charttime"]),
            "LAB//" + labs["itemid"] + "//" + unit,
            number,
            text,
        )
    ]
    patients = _read("patients")
    birth_year = patients["anchor_year"].astype(int) - patients["anchor_age"].astype(int)
    births = pd.to_datetime(birth_year.astype(str) + "-01-01").astype("datetime64[us]")
    parts.append(_events(patients["subject_id"], None, "GENDER//" + patients["gender"]))
    parts.append(_events(patients["subject_id"], births, pd.Series("MEDS_BIRTH", index=patients.index)))
    dead = patients[patients["dod"] != ""]
    dod = pd.to_datetime(dead["dod"], format="%Y-%m-%d").astype("datetime64[us]")
    parts.append(_events(dead["subject_id"], dod, pd.Series("MEDS_DEATH", index=dead.index)))
    admissions = _read("admissions")
    parts.append(
        _events(
            admissions["subject_id"],
            _times(admissions["admittime"]),
            "HOSPITAL_ADMISSION//" + admissions["admission_type"],
        )
    )
    parts.append(
        _events(
            admissions["subject_id"],
            _times(admissions["dischtime"]),
            "HOSPITAL_DISCHARGE//"
            + admissions["discharge_location"].where(admissions["discharge_location"] != "", "UNK"),
        )
    )
    events = pd.concat(parts, ignore_index=True)
    return events.sort_values(["subject_id", "time"], kind="stable", na_position="first").reset_index(
        drop=True
    )


def meds_splits(subjects: np.ndarray) -> pd.DataFrame:
    """60/20/20 of the sorted subjects as train/tuning/held_out."""
    ordered = np.sort(subjects)
    bounds = np.array([0.6, 0.8]) * len(ordered)
    names = np.asarray(MEDS_SPLITS, dtype=object)[
        np.searchsorted(bounds, np.arange(len(ordered)), side="right")
    ]
    return pd.DataFrame({"subject_id": ordered.astype(np.int64), "split": names})


def write_meds_dataset(root: Path) -> Path:
    """The demo as a MEDS dataset under ``root``; returns ``root``."""
    events = mimic_demo_events()
    splits = meds_splits(events["subject_id"].unique())
    split_of = events["subject_id"].map(splits.set_index("subject_id")["split"])
    for name in MEDS_SPLITS:
        folder = root / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        shard = events[(split_of == name).to_numpy()]
        pq.write_table(pa.Table.from_pandas(shard, schema=SCHEMA, preserve_index=False), folder / "0.parquet")
    metadata = root / "metadata"
    metadata.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(splits, preserve_index=False), metadata / "subject_splits.parquet")
    items = _read("d_labitems").set_index("itemid")["label"]
    codes = pd.Series(events["code"][events["code"].str.startswith("LAB//")].unique())
    described = pd.DataFrame(
        {"code": codes, "description": codes.str.split("//").str[1].map(items).to_numpy()}
    )
    pq.write_table(pa.Table.from_pandas(described, preserve_index=False), metadata / "codes.parquet")
    dataset = {"dataset_name": "mimic-iv-demo (tests)", "dataset_version": "2.2", "meds_version": "0.3.3"}
    (metadata / "dataset.json").write_text(json.dumps(dataset))
    return root


def records_table(record_list: pd.DataFrame) -> pd.DataFrame:
    """The generic reader's records table for record list rows (record = path, start = ecg_time)."""
    return pd.DataFrame(
        {
            "record": record_list["path"],
            "patient_id": record_list["subject_id"],
            "start_time": record_list["ecg_time"],
        }
    )


@dataclass(frozen=True)
class MedsDemo:
    """The demo as MEDS, real-waveform ECGs of its ECG subjects, and the store `cohort meds` made of them."""

    meds: Path
    ecg: Path
    records: Path
    store: Path
    listed: pd.DataFrame  # the record list rows written as WFDB records


def build_meds_demo(root: Path, per_subject: int = 2) -> MedsDemo:
    """Write the MEDS dataset and the records under ``root`` and read them into ``root/store``."""
    from wfdb_fixtures import demo_record_list, write_mimic_ecg_tree

    from ecglab.cohort.readers.meds import build_meds_cohort

    meds = write_meds_dataset(root / "meds")
    listed = demo_record_list().groupby("subject_id").head(per_subject).reset_index(drop=True)
    write_mimic_ecg_tree(root / "ecg", listed)
    records_table(listed).to_csv(root / "records.csv", index=False)
    store = build_meds_cohort(
        meds, root / "records.csv", root / "ecg", root / "store", workers=1, progress=False
    )
    return MedsDemo(meds, root / "ecg", root / "records.csv", store, listed)
