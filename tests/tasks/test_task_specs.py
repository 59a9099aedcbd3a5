"""The task spec and registry contract: built-in tasks, YAML files with defaults and grids, validation with
messages that name the problem, registration, and the digests that key cached tasks and trained models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ecglab.tasks import registry
from ecglab.tasks.registry import get_task, list_tasks, register_spec_file, register_task
from ecglab.tasks.spec import (
    EvalSpec,
    InputSpec,
    PanelSpec,
    SplitSpec,
    TrainSpec,
    load_spec_file,
    spec_from_dict,
)

BUILTINS = [
    "anyecg_lab_est_60min",
    "anyecg_lab_est_30min",
    "anyecg_lab_est_15min",
    "cardiolab_est_60min",
    "cardiolab_forecast_30min",
    "cardiolab_forecast_60min",
    "cardiolab_forecast_120min",
]

GRID_YAML = """
defaults:
  version: "2"
  kind: forecast
  split: {kind: patient, fractions: [0.8, 0.1, 0.1], seed: 0}
  eval: {max_segments: null, crops: 4}
  tags: [demo]
tasks:
  - name: "demo_{horizon_min}min_tabular_{tabular}"
    description: "any value within {horizon_min} min"
    split: {seed: 5}
    grid:
      horizon_min: [30, 90]
      tabular: [true, false]
"""


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in registry, copied so that what a test registers is gone after it."""
    monkeypatch.setattr(registry, "REGISTRY", registry.new_registry())


def write_yaml(tmp_path: Path, text: str, name: str = "specs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def forecast_dict(**changes: Any) -> dict[str, Any]:
    return {"name": "t", "version": "1", "kind": "forecast", "horizon_min": 60, **changes}


# ------------------------------------------------------------------------------------ built-in tasks
def test_builtin_tasks_are_listed() -> None:
    assert set(BUILTINS) <= set(list_tasks())
    assert list_tasks("cardiolab_forecast_*") == [
        "cardiolab_forecast_120min",
        "cardiolab_forecast_30min",
        "cardiolab_forecast_60min",
    ]
    assert list_tasks("anyecg_lab_est_*min") == sorted(n for n in BUILTINS if n.startswith("anyecg"))


def test_builtin_specs_carry_their_grid_values_and_file_defaults() -> None:
    est30 = get_task("anyecg_lab_est_30min")
    assert (est30.kind, est30.window_min, est30.train_window) == ("window_estimation", 30, 60)
    assert "+/-30 min" in est30.description and "{" not in est30.description
    assert est30.eval.max_segments == 200 and est30.input.leads == ("II",)
    forecast = get_task("cardiolab_forecast_120min")
    assert (forecast.kind, forecast.horizon_min, forecast.window_min) == ("forecast", 120, None)
    assert (forecast.eval.max_segments, forecast.eval.crops) == (None, 4)
    assert forecast.split.fractions == (0.9, 0.05, 0.05) and forecast.tabular
    assert len(forecast.input.leads) == 12


def test_a_spec_survives_its_dict_form() -> None:
    for name in BUILTINS:
        spec = get_task(name)
        again = spec_from_dict(spec.to_dict())
        assert again == spec and again.digest() == spec.digest()


# ------------------------------------------------------------------------------------ spec files
def test_a_grid_expands_into_one_task_per_combination_with_names_filled(tmp_path: Path) -> None:
    specs = load_spec_file(write_yaml(tmp_path, GRID_YAML))
    assert [s.name for s in specs] == [
        "demo_30min_tabular_True",
        "demo_30min_tabular_False",
        "demo_90min_tabular_True",
        "demo_90min_tabular_False",
    ]
    assert [(s.horizon_min, s.tabular) for s in specs] == [(30, True), (30, False), (90, True), (90, False)]
    assert specs[2].description == "any value within 90 min"


def test_defaults_merge_into_each_task_nested_fields_included(tmp_path: Path) -> None:
    spec = load_spec_file(write_yaml(tmp_path, GRID_YAML))[0]
    assert spec.version == "2" and spec.kind == "forecast" and spec.tags == ("demo",)
    # the task's split.seed overrides the default's; the default's other split fields stay
    assert spec.split == SplitSpec(kind="patient", fractions=(0.8, 0.1, 0.1), seed=5)
    assert spec.eval == EvalSpec(max_segments=None, crops=4)
    assert spec.panel == PanelSpec() and spec.input == InputSpec()  # not in the file: dataclass defaults


def test_registering_a_spec_file_adds_its_tasks(tmp_path: Path, own_registry: None) -> None:
    names = register_spec_file(write_yaml(tmp_path, GRID_YAML))
    assert len(names) == 4 and set(names) <= set(list_tasks("demo_*"))
    assert get_task("demo_90min_tabular_False").horizon_min == 90


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("windw_min: 60", r"TaskSpec: unknown fields \['windw_min'\]"),
        ("panel: {kind: cardiolab, min_positive: 3}", r"PanelSpec: unknown fields \['min_positive'\]"),
        ("split: {fraction: [0.8, 0.1, 0.1]}", r"SplitSpec: unknown fields \['fraction'\]"),
        ("eval: {crop: 4}", r"EvalSpec: unknown fields \['crop'\]"),
        ("input: {lead: [II]}", r"InputSpec: unknown fields \['lead'\]"),
        ("train: {sample: pair}", r"TrainSpec: unknown fields \['sample'\]"),
    ],
)
def test_unknown_fields_raise_naming_them_and_the_file(tmp_path: Path, entry: str, message: str) -> None:
    text = 'tasks:\n  - {name: bad, version: "1", kind: forecast, horizon_min: 60}\n'
    path = write_yaml(tmp_path, text.replace("}\n", f", {entry}}}\n"))
    with pytest.raises(ValueError, match=message) as caught:
        load_spec_file(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "regression"}, "kind must be one of"),
        ({"kind": "window_estimation"}, "window_min is required"),
        ({"kind": "closest_estimation"}, "window_min is required"),
        ({"horizon_min": None}, "horizon_min is required"),
        ({"split": {"fractions": [0.7, 0.2, 0.2]}}, "split.fractions must be three non-negative numbers"),
        ({"split": {"fractions": [1.1, 0.1, -0.2]}}, "split.fractions must be three non-negative numbers"),
        ({"split": {"kind": "source"}}, r"source needs split.column"),
        ({"split": {"kind": "random"}}, "split.kind must be one of"),
        ({"eval": {"max_segments": 200, "crops": 4}}, "exactly one of max_segments and crops"),
        ({"eval": {"max_segments": None}}, "exactly one of max_segments and crops"),
        ({"eval": {"pooling": "max"}}, "eval.pooling must be one of"),
        ({"panel": {"kind": "csv"}}, r"csv needs panel.path"),
        ({"version": ""}, "version is required"),
        ({"train": {"sampling": "pairs"}}, r"train.sampling must be one of \('anchor', 'pair'\)"),
        ({"train": {"val_segments": 0}}, "train.val_segments must be a positive integer or null"),
        ({"train": {"val_segments": 2.5}}, "train.val_segments must be a positive integer or null"),
        ({"train": {"val_segments": True}}, "train.val_segments must be a positive integer or null"),
    ],
)
def test_invalid_specs_raise_naming_the_problem(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        spec_from_dict(forecast_dict(**changes))
    assert "task 't'" in str(caught.value)


def test_every_problem_of_a_spec_is_named_at_once() -> None:
    with pytest.raises(ValueError, match=r"horizon_min is required.*exactly one of max_segments and crops"):
        spec_from_dict(forecast_dict(horizon_min=None, eval={"crops": 4}))


def test_an_invalid_spec_in_a_file_raises_naming_the_file_and_the_grid_task(tmp_path: Path) -> None:
    text = GRID_YAML.replace("crops: 4", "crops: 4, max_segments: 200")
    path = write_yaml(tmp_path, text)
    with pytest.raises(ValueError, match=r"demo_30min_tabular_True.*exactly one of max_segments and crops"):
        load_spec_file(path)


def test_a_file_without_a_tasks_list_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected a mapping with a 'tasks' list"):
        load_spec_file(write_yaml(tmp_path, "name: lonely\nkind: forecast\n"))


def test_fractions_must_be_three() -> None:
    with pytest.raises(ValueError, match=r"split\.fractions must be three"):
        spec_from_dict(forecast_dict(split={"fractions": [0.9, 0.1]}))


def test_a_placeholder_that_is_not_a_grid_field_raises_value_error(tmp_path: Path) -> None:
    text = 'tasks:\n  - {name: "x_{horizon}min", version: "1", kind: forecast, grid: {horizon_min: [30]}}\n'
    with pytest.raises(ValueError, match="horizon"):
        load_spec_file(write_yaml(tmp_path, text))


# ------------------------------------------------------------------------------------ the registry
def test_registering_a_name_twice_raises(tmp_path: Path, own_registry: None) -> None:
    with pytest.raises(ValueError, match="'anyecg_lab_est_60min' is already registered"):
        register_task(replace(get_task("anyecg_lab_est_60min"), version="2"))
    path = write_yaml(tmp_path, GRID_YAML)
    names = register_spec_file(path)
    assert register_spec_file(path) == names  # the same file again: identical specs, nothing changes
    path.write_text(GRID_YAML.replace('version: "2"', 'version: "3"'))
    with pytest.raises(ValueError, match="already registered"):
        register_spec_file(path)  # the same names with other definitions: refused


def test_an_unknown_name_raises_key_error_with_close_matches() -> None:
    with pytest.raises(KeyError, match="did you mean anyecg_lab_est_60min"):
        get_task("anyecg_lab_est_60")
    with pytest.raises(KeyError, match="cardiolab_forecast_30min"):
        get_task("cardiolab_forcast_30min")
    with pytest.raises(KeyError, match="unknown task 'zzz'; known: anyecg_lab_est_15min"):
        get_task("zzz")


# ------------------------------------------------------------------------------------ digests
BASE = get_task("cardiolab_forecast_60min")

LABEL_DEFINING = {
    "name": {"name": "cardiolab_forecast_60min_b"},
    "version": {"version": "9"},
    "kind": {"kind": "closest_estimation", "window_min": 60, "horizon_min": None},
    "horizon_min": {"horizon_min": 45},
    "train_window_min": {"train_window_min": 30},
    "panel.kind": {"panel": replace(BASE.panel, kind="anyecg_lab")},
    "panel.min_positives": {"panel": replace(BASE.panel, min_positives=5)},
    "panel.min_positive_patients": {"panel": replace(BASE.panel, min_positive_patients=5)},
    "panel.min_negative_patients": {"panel": replace(BASE.panel, min_negative_patients=5)},
    "panel.min_lab_rows": {"panel": replace(BASE.panel, min_lab_rows=50)},
    "split.seed": {"split": replace(BASE.split, seed=1)},
    "split.fractions": {"split": replace(BASE.split, fractions=(0.8, 0.1, 0.1))},
    "eval.crops": {"eval": replace(BASE.eval, crops=2)},
    "eval.seed": {"eval": replace(BASE.eval, seed=3)},
    "input.leads": {"input": replace(BASE.input, leads=("II",))},
    "input.fs": {"input": replace(BASE.input, fs=250.0)},
    "input.seconds": {"input": replace(BASE.input, seconds=10.0)},
    "tabular": {"tabular": False},
}


@pytest.mark.parametrize("changes", LABEL_DEFINING.values(), ids=LABEL_DEFINING.keys())
def test_digest_changes_with_anything_that_defines_the_task(changes: dict[str, Any]) -> None:
    assert replace(BASE, **changes).digest() != BASE.digest()


def test_digest_ignores_description_and_tags() -> None:
    changed = replace(BASE, description="another wording", tags=("x", "y"))
    assert changed.digest() == BASE.digest()
    assert changed.training_digest() == BASE.training_digest()


def test_equal_specs_have_equal_digests() -> None:
    spec = get_task("anyecg_lab_est_60min")
    same = replace(spec, window_min=float(spec.window_min), input=replace(spec.input, fs=500.0))
    assert same == spec
    assert same.digest() == spec.digest()


def test_training_digest_is_shared_by_the_anyecg_windows_only() -> None:
    anyecg = {get_task(f"anyecg_lab_est_{w}min").training_digest() for w in (60, 30, 15)}
    assert len(anyecg) == 1
    cardiolab = [get_task(n).training_digest() for n in BUILTINS if n.startswith("cardiolab")]
    assert len(set(cardiolab)) == 4 and not anyecg & set(cardiolab)
    # evaluation does not change what is trained; the training window does
    spec = get_task("anyecg_lab_est_60min")
    assert replace(spec, eval=replace(spec.eval, max_segments=50)).training_digest() in anyecg
    assert replace(spec, train_window_min=30).training_digest() not in anyecg


# ------------------------------------------------------------------------------------ the train section
# The shipped specs' digests: they key cached tasks and run ids, so a new spec field at its default must leave
# them alone (``train`` did). Version 2 changed them on purpose: the patient minimums and the CardioLab
# authors' lab filters (PanelSpec.min_positive_patients, min_negative_patients, min_lab_rows) change labels.
SHIPPED_DIGESTS = {
    "anyecg_lab_est_60min": "61b6b9d6540de372",
    "anyecg_lab_est_30min": "1bcba6b0e65deec4",
    "anyecg_lab_est_15min": "86eb0f187d4eda7f",
    "cardiolab_est_60min": "bcd49e41db7068e2",
    "cardiolab_forecast_30min": "9f09a4c7500f2782",
    "cardiolab_forecast_60min": "5e066bf6c2e6fc13",
    "cardiolab_forecast_120min": "a689d7fb95363664",
}


def test_shipped_specs_keep_their_digests_and_train_as_they_did() -> None:
    assert {name: get_task(name).digest()[:16] for name in SHIPPED_DIGESTS} == SHIPPED_DIGESTS
    for name in SHIPPED_DIGESTS:
        spec = get_task(name)
        assert spec.train == TrainSpec(sampling="anchor", val_segments=None) and "train" not in spec.to_dict()


def test_train_options_change_the_digests_and_an_explicit_default_does_not(tmp_path: Path) -> None:
    base = get_task("anyecg_lab_est_60min")
    text = base.to_dict()
    explicit = spec_from_dict({**text, "train": {"sampling": "anchor", "val_segments": None}})
    assert explicit == base and explicit.digest() == base.digest()
    assert explicit.training_digest() == base.training_digest()
    pair = replace(base, train=TrainSpec(sampling="pair"))
    subset = replace(base, train=TrainSpec(val_segments=20))
    assert len({base.digest(), pair.digest(), subset.digest()}) == 3
    assert len({base.training_digest(), pair.training_digest(), subset.training_digest()}) == 3
    assert spec_from_dict(pair.to_dict()) == pair and pair.to_dict()["train"]["sampling"] == "pair"
    yaml_text = (
        'tasks:\n  - {name: p, version: "1", kind: forecast, horizon_min: 60, train: {sampling: pair}}\n'
    )
    (loaded,) = load_spec_file(write_yaml(tmp_path, yaml_text))
    assert loaded.train == TrainSpec(sampling="pair", val_segments=None)


# ------------------------------------------------------------------------------------ types and ranges
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"horizon_min": -30}, r"horizon_min must be a positive number of minutes, got -30"),
        ({"horizon_min": 0}, r"horizon_min must be a positive number of minutes, got 0"),
        ({"horizon_min": "sixty"}, r"horizon_min must be a positive number of minutes, got 'sixty'"),
        ({"kind": "closest_estimation", "window_min": -5}, r"window_min must be a positive number"),
        ({"kind": "closest_estimation", "window_min": 0}, r"window_min must be a positive number"),
        ({"train_window_min": True}, r"train_window_min must be a positive number"),
        ({"tabular": "yes"}, r"tabular must be true or false"),
        ({"tags": "cardiolab"}, r"tags must be a list of text"),
        ({"version": 1.5}, r"version must be text"),
        ({"panel": {"min_positives": 0}}, r"panel.min_positives must be a positive integer, got 0"),
        ({"panel": {"min_negatives": 2.5}}, r"panel.min_negatives must be a positive integer"),
        ({"split": {"seed": -1}}, r"split.seed must be a non-negative integer"),
        ({"split": {"fractions": 0.7}}, r"split.fractions must be three non-negative numbers"),
        ({"split": {"fractions": ["a", "b", "c"]}}, r"split.fractions must be three non-negative numbers"),
        ({"eval": {"max_segments": 0}}, r"eval.max_segments must be a positive integer or null, got 0"),
        ({"eval": {"max_segments": None, "crops": -4}}, r"eval.crops must be a positive integer or null"),
        ({"input": {"leads": []}}, r"input.leads must be a non-empty list of lead names"),
        ({"input": {"leads": "II"}}, r"input.leads must be a non-empty list of lead names"),
        ({"input": {"leads": ["II", "X7"]}}, r"input.leads: unknown leads \['X7'\]"),
        ({"input": {"fs": 0}}, r"input.fs must be a positive number, got 0"),
        ({"input": {"seconds": -10}}, r"input.seconds must be a positive number, got -10"),
        ({"panel": "cardiolab"}, r"panel must be a mapping of PanelSpec fields, got 'cardiolab'"),
    ],
)
def test_wrong_types_and_ranges_raise_task_spec_errors(changes: dict[str, Any], message: str) -> None:
    from ecglab.tasks.errors import TaskSpecError

    with pytest.raises(TaskSpecError, match=message) as caught:
        spec_from_dict(forecast_dict(**changes))
    assert "task 't'" in str(caught.value) and "\n" not in str(caught.value)


def test_unknown_fields_get_a_did_you_mean() -> None:
    with pytest.raises(
        ValueError, match=r"unknown fields \['horizon_mins'\] \(did you mean 'horizon_mins' -> "
    ):
        spec_from_dict(forecast_dict(horizon_mins=60))


def test_a_missing_required_key_names_it() -> None:
    data = forecast_dict()
    del data["kind"]
    with pytest.raises(ValueError, match=r"task 't': missing required keys \['kind'\]"):
        spec_from_dict(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tasks: [\n  - {name: x\n", "not valid YAML"),
        ("tasks: [not-a-mapping]\n", "each entry of 'tasks' must be a mapping"),
        ("task: []\n", "expected a mapping with a 'tasks' list"),
        ("tasks: []\ndefault: {}\n", r"unknown top-level keys \['default'\]"),
        ("defaults: [1]\ntasks: []\n", "defaults must be a mapping"),
        ('tasks:\n  - {name: x, version: "1", kind: forecast, grid: {horizon_min: 60}}\n', "grid must map"),
    ],
)
def test_a_malformed_file_names_itself(tmp_path: Path, text: str, message: str) -> None:
    path = write_yaml(tmp_path, text)
    with pytest.raises(ValueError, match=message) as caught:
        load_spec_file(path)
    assert str(path) in str(caught.value)


def test_a_missing_spec_file_and_an_empty_csv_panel_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="task spec file not found"):
        load_spec_file(tmp_path / "nowhere.yaml")
    panel = tmp_path / "panel.csv"
    panel.write_text("target,lab,direction,threshold\n")
    entry = f'{{name: x, version: "1", kind: forecast, horizon_min: 60, panel: {{kind: csv, path: {panel}}}}}'
    text = f"tasks:\n  - {entry}\n"
    with pytest.raises(ValueError, match=r"panel.path .*panel.csv: the panel names no targets"):
        load_spec_file(write_yaml(tmp_path, text))
