"""Bad-input catalogue: cohort stores that lie or are damaged, interrupted and refused `cohort synth` runs,
bad task specs and a task with no usable target. Each case runs the CLI (``ecglab.bench.cli.main``) and
asserts its outcome: exit 2 with one stderr line ``ecglab: error: ...`` naming the problem, and that what
was written before is still there and not replaced by something that looks complete."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from ecglab.bench.cli import build_parser, main
from ecglab.cohort.hashing import content_hash
from ecglab.cohort.synth import SynthConfig, build_synthetic_cohort

SMALL = SynthConfig(n_patients=8, seed=3, fs=100.0, bout_minutes=(0.3, 0.6))


def one_error_line(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """The single stderr line of a refused command; it starts with ``ecglab: error:`` and has ``words``."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ecglab: error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_synthetic_cohort(tmp_path_factory.mktemp("pristine") / "c", SMALL, workers=1, progress=False)


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the small store that a case may damage."""
    return Path(shutil.copytree(pristine, tmp_path / "store"))


# ====================================================================== stores that lie or are damaged
def _meta(store: Path) -> dict:
    return json.loads((store / "cohort.json").read_text())


def _write_meta(store: Path, meta: dict) -> None:
    (store / "cohort.json").write_text(json.dumps(meta))


def edit_content_hash(store: Path) -> None:
    _write_meta(store, {**_meta(store), "content_hash": "0" * 64})


def edit_row_counts(store: Path) -> None:
    meta = _meta(store)
    meta["row_counts"]["labs"] += 5
    _write_meta(store, meta)


def drop_row_counts(store: Path) -> None:
    meta = _meta(store)
    del meta["row_counts"]
    _write_meta(store, meta)


def edit_table_hash(store: Path) -> None:
    meta = _meta(store)
    meta["tables"]["labs"]["hash"] = "f" * 64
    _write_meta(store, meta)


def edit_table_rows(store: Path) -> None:
    meta = _meta(store)
    meta["tables"]["visits"]["rows"] += 1
    meta["row_counts"]["visits"] += 1
    _write_meta(store, meta)


def edit_shard_hash(store: Path) -> None:
    meta = _meta(store)
    meta["shards"][-1]["sha256"] = "e" * 64
    _write_meta(store, meta)


def edit_shard_samples(store: Path) -> None:
    meta = _meta(store)
    meta["shards"][0]["n_samples"] += 10
    _write_meta(store, meta)


def rewrite_record_consistently(store: Path) -> None:
    """A table hash edited and the content hash recomputed to match: only the data can tell."""
    meta = _meta(store)
    meta["tables"]["labs"]["hash"] = "f" * 64
    meta["content_hash"] = content_hash(meta["tables"], meta["shards"])
    _write_meta(store, meta)


def flip_a_shard_byte(store: Path) -> None:
    shard = store / _meta(store)["shards"][0]["file"]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x10
    shard.write_bytes(bytes(data))


def truncate_a_shard(store: Path) -> None:
    shard = store / _meta(store)["shards"][0]["file"]
    shard.write_bytes(shard.read_bytes()[:-4])


def edit_table_values(store: Path) -> None:
    labs = store / "labs.parquet"
    pd.read_parquet(labs).assign(value=lambda f: f["value"] + 1).to_parquet(labs, index=False)


def edit_shard_leads(store: Path) -> None:
    meta = _meta(store)
    meta["shards"][0]["leads"] = ["V1"]
    _write_meta(store, meta)


def break_cohort_json(store: Path) -> None:
    (store / "cohort.json").write_text('{"format": "ecglab-cohort", ')


def cohort_json_a_list(store: Path) -> None:
    (store / "cohort.json").write_text("[1, 2]")


STORE_CASES = [
    ("edited-content-hash", edit_content_hash, "info", ("content_hash 000000000000", "edited")),
    ("edited-row-counts", edit_row_counts, "info", ("row_counts", "labs")),
    ("missing-row-counts", drop_row_counts, "info", ("malformed", "row_counts")),
    ("edited-table-hash", edit_table_hash, "info", ("content_hash", "recorded table and shard hashes")),
    ("edited-shard-hash", edit_shard_hash, "info", ("content_hash",)),
    ("edited-shard-samples", edit_shard_samples, "info", ("shard-00000", "bytes, expected", "truncated")),
    ("edited-table-rows", edit_table_rows, "info", ("visits.parquet", "15 rows, cohort.json says 16")),
    ("edited-table-hash-verify", edit_table_hash, "verify", ("content_hash",)),
    ("consistent-record-verify", rewrite_record_consistently, "verify", ("labs.parquet", "differs")),
    ("shard-byte-verify", flip_a_shard_byte, "verify", ("shard-00000", "corrupt")),
    ("truncated-shard", truncate_a_shard, "info", ("truncated",)),
    ("table-values-verify", edit_table_values, "verify", ("labs.parquet", "differs")),
    ("shard-leads-verify", edit_shard_leads, "verify", ("leads ['V1']",)),
    ("cohort-json-not-json", break_cohort_json, "info", ("not valid JSON",)),
    ("cohort-json-a-list", cohort_json_a_list, "info", ("not an ecglab cohort",)),
]


@pytest.mark.parametrize(
    ("damage", "verb", "words"), [case[1:] for case in STORE_CASES], ids=[case[0] for case in STORE_CASES]
)
def test_a_store_that_lies_or_is_damaged_is_refused(
    store: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], None],
    verb: str,
    words: tuple[str, ...],
) -> None:
    damage(store)
    files = sorted(p.relative_to(store) for p in store.rglob("*"))
    assert main(["cohort", verb, str(store)]) == 2
    one_error_line(capsys, str(store), *words)
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == files  # nothing removed or added


def test_a_task_is_not_built_on_a_store_whose_record_lies(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_content_hash(store)
    cache = tmp_path / "tasks"
    assert main(["tasks", "show", "cardiolab_est_60min", "--cohort", str(store), "--cache", str(cache)]) == 2
    one_error_line(capsys, "content_hash")
    assert not cache.exists()


def test_verify_of_a_sound_store_passes(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cohort", "verify", str(store)]) == 0
    assert "match their hashes" in capsys.readouterr().out


# ====================================================================== cohort synth: interrupted, refused
SYNTH_ARGS = ["--patients", "3", "--seed", "4", "--bout-minutes", "0.2", "0.3", "--workers", "1", "--quiet"]


def test_an_interrupted_synth_reruns_from_its_parts_to_the_same_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecglab.cohort.synth import cohort as synth_module
    from ecglab.cohort.synth import simulate_patient

    whole, out = tmp_path / "whole", tmp_path / "resumed"
    # three patients: one patient a part, so the interruption falls between parts
    assert main(["cohort", "synth", "--out", str(whole), *SYNTH_ARGS]) == 0

    def interrupted(config: SynthConfig, index: int) -> object:
        if index == 2:
            raise KeyboardInterrupt
        return simulate_patient(config, index)

    monkeypatch.setattr(synth_module, "simulate_patient", interrupted)
    capsys.readouterr()
    assert main(["cohort", "synth", "--out", str(out), *SYNTH_ARGS]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists()  # nothing that looks like a store
    monkeypatch.setattr(synth_module, "simulate_patient", simulate_patient)
    assert main(["cohort", "synth", "--out", str(out), *SYNTH_ARGS]) == 0
    assert "resuming: 2 of 3 parts" in capsys.readouterr().err
    assert main(["cohort", "verify", str(out)]) == 0
    assert _meta(out)["content_hash"] == _meta(whole)["content_hash"]  # the uninterrupted run's store


SYNTH_REFUSALS = [
    ("patients-zero", ["--patients", "0"], "--patients must be >= 1"),
    ("seed-negative", ["--seed", "-1"], "--seed must be >= 0"),
    ("workers-zero", ["--workers", "0"], "--workers must be >= 1"),
    ("bout-minutes-reversed", ["--bout-minutes", "5", "1"], "--bout-minutes needs 0 < MIN <= MAX"),
    ("bout-minutes-negative", ["--bout-minutes", "-1", "1"], "--bout-minutes needs 0 < MIN <= MAX"),
    ("fraction-without-scale", ["--fraction", "0.5"], "apply only with --scale"),
]


@pytest.mark.parametrize(
    ("extra", "words"), [c[1:] for c in SYNTH_REFUSALS], ids=[c[0] for c in SYNTH_REFUSALS]
)
def test_synth_refuses_numbers_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], words: str
) -> None:
    out = tmp_path / "c"
    assert main(["cohort", "synth", "--out", str(out), "--quiet", *extra]) == 2
    one_error_line(capsys, words)
    assert not out.exists() and not (tmp_path / ".c.partial").exists()


def test_synth_onto_an_existing_store_is_refused_and_the_store_kept(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (store / "cohort.json").read_bytes()
    assert main(["cohort", "synth", "--out", str(store), *SYNTH_ARGS]) == 2
    one_error_line(capsys, str(store), "already holds a cohort store")
    assert (store / "cohort.json").read_bytes() == before


# ====================================================================== bad task specs
BASE = {"name": "bad_task", "version": "1", "kind": "forecast", "horizon_min": 60}

SPEC_CASES = [
    ("negative-window", {"kind": "closest_estimation", "window_min": -5}, "window_min must be a positive"),
    ("zero-window", {"kind": "closest_estimation", "window_min": 0}, "window_min must be a positive"),
    ("negative-horizon", {"horizon_min": -30}, "horizon_min must be a positive number of minutes, got -30"),
    ("zero-horizon", {"horizon_min": 0}, "horizon_min must be a positive number of minutes, got 0"),
    ("text-horizon", {"horizon_min": "sixty"}, "horizon_min must be a positive number of minutes"),
    ("unknown-key", {"horizon_mins": 60}, "unknown fields ['horizon_mins']"),
    ("unknown-nested-key", {"panel": {"min_positive": 3}}, "PanelSpec: unknown fields ['min_positive']"),
    ("missing-kind", {"kind": None}, "missing required keys ['kind']"),
    ("empty-leads", {"input": {"leads": []}}, "input.leads must be a non-empty list"),
    ("unknown-lead", {"input": {"leads": ["II", "X7"]}}, "unknown leads ['X7']"),
    ("zero-fs", {"input": {"fs": 0}}, "input.fs must be a positive number"),
    ("tabular-text", {"tabular": "yes"}, "tabular must be true or false"),
    ("min-positives-zero", {"panel": {"min_positives": 0}}, "panel.min_positives must be a positive integer"),
    (
        "min-positive-patients-zero",
        {"panel": {"min_positive_patients": 0}},
        "panel.min_positive_patients must be a positive integer, got 0",
    ),
    (
        "min-negative-patients-text",
        {"panel": {"min_negative_patients": "ten"}},
        "panel.min_negative_patients must be a positive integer, got 'ten'",
    ),
    ("min-lab-rows-negative", {"panel": {"min_lab_rows": -1}}, "panel.min_lab_rows must be a non-negative"),
    ("panel-a-string", {"panel": "cardiolab"}, "panel must be a mapping"),
    ("max-segments-zero", {"eval": {"max_segments": 0}}, "eval.max_segments must be a positive integer"),
]


def _spec_file(tmp_path: Path, entry: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({"tasks": [entry]}))  # JSON is YAML
    return path


@pytest.mark.parametrize(("changes", "words"), [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES])
def test_a_bad_task_spec_is_one_line_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict, words: str
) -> None:
    entry = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    path = _spec_file(tmp_path, entry)
    assert main(["tasks", "list", "--spec", str(path)]) == 2
    one_error_line(capsys, str(path), "'bad_task'", words)


def test_an_empty_panel_csv_is_refused_at_spec_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    panel = tmp_path / "panel.csv"
    panel.write_text("target,lab,direction,threshold\n")
    path = _spec_file(tmp_path, {**BASE, "panel": {"kind": "csv", "path": str(panel)}})
    assert main(["tasks", "list", "--spec", str(path)]) == 2
    one_error_line(capsys, str(path), "panel.path", "names no targets")


FILE_CASES = [
    ("not-yaml", "tasks: [\n  - {name: x\n", "not valid YAML"),
    ("no-tasks-list", "task: []\n", "expected a mapping with a 'tasks' list"),
    ("entry-not-mapping", "tasks: [just-a-name]\n", "must be a mapping"),
    ("not-utf8", b"tasks: []\n# \xff\xfe\n", "not UTF-8"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_a_malformed_spec_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | bytes, words: str
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["tasks", "list", "--spec", str(path)]) == 2
    one_error_line(capsys, str(path), words)


def test_a_missing_spec_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "--spec", str(tmp_path / "nowhere.yaml")]) == 2
    one_error_line(capsys, "nowhere.yaml", "not found")


# ====================================================================== a task with no usable target
def test_a_task_with_no_usable_target_names_the_rule_and_the_closest(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {
        "name": "hopeless",
        "version": "1",
        "kind": "closest_estimation",
        "window_min": 30,
        "panel": {
            "kind": "cardiolab",
            "min_positives": 500,
            "min_negatives": 1,
            "min_positive_patients": 1,
            "min_negative_patients": 1,
            "min_lab_rows": 1,
        },
        "eval": {"max_segments": None, "crops": 1},
        "input": {"leads": ["II"], "fs": 100, "seconds": 2.5},
    }
    path, cache = _spec_file(tmp_path, entry), tmp_path / "tasks"
    args = ["tasks", "show", "hopeless", "--spec", str(path), "--cohort", str(store), "--cache", str(cache)]
    assert main(args) == 2
    line = one_error_line(capsys, "every target was dropped", "for fewer than 500 positives in", "closest: ")
    assert "/500 positives in " in line and "panel.min_positives" in line
    assert not any(cache.rglob("task.json"))  # nothing that looks like a built task


def test_tasks_show_without_a_store_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "show", "cardiolab_est_60min", "--cohort", str(tmp_path / "none")]) == 2
    one_error_line(capsys, "no cohort store at")


# ====================================================================== help on every flag
def _flags_without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _flags_without_help(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


@pytest.mark.parametrize("verb", ["cohort", "tasks"])
def test_every_flag_of_the_cohort_and_tasks_verbs_has_help(verb: str) -> None:
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert _flags_without_help(commands.choices[verb], f"ecglab {verb}") == []
    synth = commands.choices["cohort"]._actions[-1].choices["synth"]
    assert any("--quiet" in a.option_strings for a in synth._actions)
