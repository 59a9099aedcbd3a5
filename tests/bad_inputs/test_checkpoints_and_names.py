"""Bad-input catalogue, backbone stage: ECGFounder checkpoints (missing, extra or misshapen keys, truncated,
not a checkpoint, unsafe) and unknown backbone names, presets and options.

Each case states its outcome: a one-line BackboneError naming the file and what is wrong (the first few
keys), a one-line ``ecglab: error: ...`` with exit 2 and close matches, or accepted as documented. Malicious
pickles are refused unexecuted; loading stays strict.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from untrusted_pickle import EXECUTED, Payload

from ecglab.backbones.errors import BackboneError, BadOption, CheckpointError, UnknownOption, UnknownPreset
from ecglab.backbones.registry import create_backbone
from ecglab.bench.cli import main
from ecglab.errors import EcglabError


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecglab: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------------------ checkpoints


def _state() -> dict[str, torch.Tensor]:
    return create_backbone("ecgfounder", "tiny_1lead").state_dict()


def _save(path: Path, value: object) -> Path:
    torch.save(value, path)
    return path


def _missing(path: Path) -> Path:
    state = _state()
    for key in list(state)[:7]:
        del state[key]
    return _save(path, state)


def _extra(path: Path) -> Path:
    return _save(path, {**_state(), "head.weight": torch.zeros(2, 2)})


def _shape(path: Path) -> Path:
    state = _state()
    state["first_conv.conv.weight"] = torch.zeros(16, 12, 16)
    return _save(path, state)


def _truncated(path: Path) -> Path:
    data = _save(path, _state()).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _random(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    return path


def _text(path: Path) -> Path:
    path.write_text("these are not the weights you are looking for\n")
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _other_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weights/readme.txt", "hello")
    return path


def _corrupt_pickle(path: Path) -> Path:
    source = _save(path.with_suffix(".good"), _state())
    with zipfile.ZipFile(source) as good, zipfile.ZipFile(path, "w") as bad:
        for info in good.infolist():
            data = good.read(info.filename)
            bad.writestr(info, b"\x80\x02garbage" + data[20:] if info.filename.endswith("data.pkl") else data)
    return path


def _untrusted(path: Path) -> Path:
    return _save(path, {"state_dict": _state(), "extra": Payload()})


def _not_tensors(path: Path) -> Path:
    return _save(path, {"state_dict": {**_state(), "note": "text"}})


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


CHECKPOINT_CASES = {
    "missing-keys": (_missing, "does not match the model: 7 missing key(s): first_conv.conv.weight, "),
    "extra-key": (_extra, "does not match the model: 1 unexpected key(s): head.weight"),
    "wrong-shape": (_shape, "first_conv.conv.weight: checkpoint (16, 12, 16), model (16, 1, 16)"),
    "truncated": (_truncated, "truncated or corrupt"),
    "random-bytes": (_random, "not a PyTorch checkpoint"),
    "text-file": (_text, "not a PyTorch checkpoint"),
    "empty-file": (_empty, "the file is empty"),
    "zip-not-torch": (_other_zip, "a zip archive but not a PyTorch checkpoint"),
    "corrupt-pickle": (_corrupt_pickle, "corrupt checkpoint"),
    "untrusted-pickle": (_untrusted, "refused, untrusted pickle"),
    "non-tensor-entry": (_not_tensors, "state_dict entries that are not tensors: note"),
    "a-folder": (_folder, "a folder, not a checkpoint file"),
    "no-such-file": (lambda path: path, "no such checkpoint file"),
}


@pytest.mark.parametrize("case", CHECKPOINT_CASES, ids=list(CHECKPOINT_CASES))
def test_a_bad_checkpoint_is_one_line_naming_the_file(case: str, tmp_path: Path) -> None:
    make, expected = CHECKPOINT_CASES[case]
    path = make(tmp_path / "weights.pth")
    with pytest.raises(CheckpointError) as caught:
        create_backbone("ecgfounder", "tiny_1lead", checkpoint=path)
    message = str(caught.value)
    assert isinstance(caught.value, EcglabError) and "\n" not in message
    assert message.startswith(f"{path}: ") and expected in message, message
    assert EXECUTED == []  # an untrusted pickle is refused unexecuted


def test_many_missing_keys_name_the_first_few(tmp_path: Path) -> None:
    path = _save(tmp_path / "stem_only.pth", {"first_conv.conv.weight": torch.zeros(16, 1, 16)})
    with pytest.raises(CheckpointError) as caught:
        create_backbone("ecgfounder", "tiny_1lead", checkpoint=path)
    message = str(caught.value)
    assert "106 missing key(s)" in message and "and 101 more" in message and len(message) < 600


def test_a_data_parallel_checkpoint_loads_as_documented(tmp_path: Path) -> None:
    path = _save(tmp_path / "dp.pth", {f"module.{k}": v for k, v in _state().items()})
    model = create_backbone("ecgfounder", "tiny_1lead", checkpoint=path)
    assert model.load_report.stripped_prefix == "module."


# ------------------------------------------------------------------------------ names, presets, options
def _cli_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    return one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["backbones", "check", "ecgfoundr"], "did you mean ecgfounder?", id="backbone-typo"),
        pytest.param(["backbones", "check", "ECGFounder"], "did you mean ecgfounder?", id="backbone-case"),
        pytest.param(
            ["backbones", "check", "resnet"], "known: ecg_features, ecgfounder", id="backbone-unknown"
        ),
        pytest.param(
            ["backbones", "check", "s4", "--preset", "tinny"], "did you mean tiny?", id="preset-typo"
        ),
        pytest.param(
            ["backbones", "check", "tabular", "--preset", "huge"], "presets: full, tiny", id="baseline-preset"
        ),
    ],
)
def test_unknown_backbones_and_presets_on_the_command_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert expected in _cli_line(argv, capsys)


@pytest.mark.parametrize(
    ("name", "preset", "options", "error", "expected"),
    [
        pytest.param(
            "ecgfounder",
            "tiny",
            {"kernel_sise": 3},
            UnknownOption,
            "did you mean kernel_size?",
            id="option-typo",
        ),
        pytest.param(
            "s4", "tiny", {"d_modle": 8}, UnknownOption, "did you mean d_model?", id="option-typo-s4"
        ),
        pytest.param(
            "transformer",
            "tiny",
            {"colour": 1},
            UnknownOption,
            "options: d_model, depth",
            id="option-unknown",
        ),
        pytest.param(
            "transformer",
            "tiny",
            {"heads": 5},
            BadOption,
            "must be divisible by heads (5)",
            id="option-value",
        ),
        pytest.param("ecgfounder", "Tiny", {}, UnknownPreset, "did you mean tiny?", id="preset-case"),
    ],
)
def test_unknown_presets_and_options_are_one_line_backbone_errors(
    name: str, preset: str, options: dict, error: type, expected: str
) -> None:
    with pytest.raises(error) as caught:
        create_backbone(name, preset, **options)
    assert isinstance(caught.value, BackboneError) and "\n" not in str(caught.value)
    assert expected in str(caught.value)


def test_the_shared_strict_loader_refuses_other_keys_and_loads_matching_ones(tmp_path: Path) -> None:
    """The timm adapter's loading: a state_dict (bare or under 'state_dict'), checked, loaded strictly."""
    from ecglab.backbones.weights import load_strictly, read_weights, state_dict_of

    model = torch.nn.Linear(3, 2)
    wrong = _save(
        tmp_path / "wrong.pt", {"weight": torch.zeros(2, 4), "bias": torch.zeros(2), "x": torch.ones(1)}
    )
    state = state_dict_of(wrong, read_weights(wrong))
    with pytest.raises(CheckpointError, match=r"1 unexpected key\(s\): x; 1 shape mismatch\(es\): weight"):
        load_strictly(model, state, wrong)
    assert not torch.equal(model.weight, torch.zeros(2, 3))  # unchanged
    good = _save(tmp_path / "good.pt", {"state_dict": {"weight": torch.zeros(2, 3), "bias": torch.ones(2)}})
    load_strictly(model, state_dict_of(good, read_weights(good)), good)
    assert torch.equal(model.bias, torch.ones(2))
    with pytest.raises(CheckpointError, match="not a state_dict of tensors"):
        state_dict_of(good, [1, 2])
