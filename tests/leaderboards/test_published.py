"""Tests of ecglab.leaderboards.published: the published AnyECG-Lab and CardioLab tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from locations import SHARED

from ecglab.leaderboards.published import COLUMNS, REFERENCE_DIR, load_published

SHARED_REFERENCE = SHARED / "reference"
FILES = ("anyecg_lab_1h_published.csv", "cardiolab_published.csv")


def test_both_tables_load_normalised() -> None:
    anyecg = load_published("anyecg_lab")
    cardiolab = load_published("cardiolab")
    assert list(anyecg.columns) == COLUMNS and list(cardiolab.columns) == COLUMNS
    assert len(anyecg) == 108 and anyecg["lab"].nunique() == 66
    assert set(anyecg["task"]) == {"estimation_60min"} and set(anyecg["study"]) == {"anyecg_lab"}
    assert len(cardiolab) == 104
    assert cardiolab["task"].value_counts().to_dict() == {
        "forecast_30min": 27,
        "forecast_60min": 27,
        "forecast_120min": 27,
        "estimation_60min": 23,
    }
    for frame in (anyecg, cardiolab):
        assert frame["auroc"].between(0, 1).all()
    potassium = anyecg[(anyecg["lab"] == "POTASSIUM") & (anyecg["direction"] == "high")].iloc[0]
    assert (potassium["threshold"], potassium["auroc"], potassium["n_tests"]) == (5.0, 0.678, 6773875)
    assert cardiolab["n_tests"].isna().all()


def test_reference_copies_are_byte_identical_to_shared() -> None:
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(
            f"{SHARED_REFERENCE} is absent: needs the shared folder beside the repository (../shared)"
        )
    for name in FILES:
        assert (REFERENCE_DIR / name).read_bytes() == (SHARED_REFERENCE / name).read_bytes(), name


def _inverted_in_raw(name: str) -> list[tuple[str, str, str]]:
    with open(REFERENCE_DIR / name, newline="") as f:
        return [
            (r["lab"], r["direction"], r.get("task", "estimation_60min"))
            for r in csv.DictReader(f)
            if float(r["ci_low"]) > float(r["ci_high"])
        ]


def test_exactly_the_inverted_interval_is_flagged_and_kept() -> None:
    cardiolab = load_published("cardiolab")
    flagged = cardiolab[cardiolab["ci_inverted"]]
    assert [tuple(r) for r in flagged[["lab", "direction", "task"]].itertuples(index=False)] == [
        ("Bicarbonate", "high", "forecast_30min")
    ]
    assert _inverted_in_raw("cardiolab_published.csv") == [("Bicarbonate", "high", "forecast_30min")]
    row = flagged.iloc[0]
    assert (row["auroc"], row["ci_low"], row["ci_high"]) == (0.722, 0.763, 0.681)  # not swapped
    assert "0.763 > high 0.681" in row["issues"]
    assert (cardiolab.loc[~cardiolab["ci_inverted"], "issues"] == "").all()

    anyecg = load_published("anyecg_lab")
    assert not anyecg["ci_inverted"].any() and _inverted_in_raw("anyecg_lab_1h_published.csv") == []
    assert (anyecg["issues"] == "").all()


def _write_edited(tmp_path: Path, name: str, line: int, old: str, new: str) -> Path:
    lines = (REFERENCE_DIR / name).read_text().splitlines(keepends=True)
    assert old in lines[line], lines[line]
    lines[line] = lines[line].replace(old, new, 1)
    (tmp_path / name).write_text("".join(lines))
    return tmp_path


def test_auroc_outside_its_interval_is_flagged(tmp_path: Path) -> None:
    # cardiolab line 1 is "NTproBNP,Ca.,high,353.0,pg/mL,estimation_60min,0.882,0.86,0.902"
    root = _write_edited(tmp_path, "cardiolab_published.csv", 1, ",0.882,", ",0.95,")
    frame = load_published("cardiolab", root=root)
    assert "outside its CI" in frame.loc[0, "issues"] and not frame.loc[0, "ci_inverted"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (",0.851,", ",1.2,", "auroc outside"),
        (",0.851,", ",n/a,", "'n/a' is not a number"),
        (",0.851,", ",,", "is not a number"),
        (",low,", ",below,", "direction not in"),
        (",124490,1486,", ",1486,124490,", "n_positive > n_tests"),
        (",124490,", ",-3,", "non-negative integers"),
        (",0.827,", ",inf,", "non-finite"),
        ("LDH, TOTAL", "BNP, NT-PRO", "duplicated"),
    ],
)
def test_malformed_anyecg_file_fails(tmp_path: Path, old: str, new: str, message: str) -> None:
    # anyecg line 1 is '"LDH, TOTAL",low,140.0,U/L,124490,1486,0.851,0.827,0.873'
    root = _write_edited(tmp_path, "anyecg_lab_1h_published.csv", 1, old, new)
    if new == "BNP, NT-PRO":  # make it a true duplicate of line 2 (BNP, NT-PRO high)
        root = _write_edited(tmp_path, "anyecg_lab_1h_published.csv", 1, ",low,", ",high,")
    with pytest.raises(ValueError, match=message):
        load_published("anyecg_lab", root=root)


def test_truncated_or_reshaped_file_fails(tmp_path: Path) -> None:
    lines = (REFERENCE_DIR / "cardiolab_published.csv").read_text().splitlines(keepends=True)
    (tmp_path / "cardiolab_published.csv").write_text("".join(lines[:-1]))
    with pytest.raises(ValueError, match="103 rows, expected 104"):
        load_published("cardiolab", root=tmp_path)
    (tmp_path / "cardiolab_published.csv").write_text("".join(lines).replace(",task,", ",horizon,", 1))
    with pytest.raises(ValueError, match=r"missing columns \['task'\]"):
        load_published("cardiolab", root=tmp_path)
    (tmp_path / "cardiolab_published.csv").write_text(
        "".join(lines).replace("forecast_30min", "forecast_45min", 1)
    )
    with pytest.raises(ValueError, match="task not in"):
        load_published("cardiolab", root=tmp_path)


def test_missing_file_and_unknown_study(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"cardiolab_published\.csv not found.*root="):
        load_published("cardiolab", root=tmp_path)
    with pytest.raises(ValueError, match="unknown study"):
        load_published("pocket_k")
