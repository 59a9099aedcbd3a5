"""Reading weights files safely and checking them against a model, shared by the backbones that load
checkpoints (ECGFounder, the timm adapter).

:func:`read_weights` opens a file with ``torch.load(weights_only=True)`` only, after telling what the file is:
a missing path, a folder, a zip archive that is not PyTorch's, a truncated file and a file in neither of
PyTorch's formats each raise :class:`~ecglab.backbones.errors.CheckpointError` naming the file and what is
wrong, on one line; so does a pickle that would need anything beyond tensors and plain containers (it is
refused unexecuted). :func:`key_problems` lists missing, unexpected and misshapen keys (the first few of
each), and :func:`load_strictly` loads a state_dict strictly after that check.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ecglab.backbones.errors import CheckpointError

SHOWN_KEYS = 5  # keys named per kind of problem; the rest are counted
# torch.save's legacy (pre-zip) format starts with a pickled magic number (protocol 2, a 10-byte long)
LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
ZIP_MAGIC = b"PK\x03\x04"


def first_keys(keys: Sequence[str], limit: int = SHOWN_KEYS) -> str:
    """The first ``limit`` keys, comma-separated, and how many more there are."""
    shown = ", ".join(str(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _check_file(path: Path) -> None:
    """Raise for a path that is no file, or a file in neither of torch.save's formats."""
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: a folder, not a checkpoint file")
    with path.open("rb") as handle:
        head = handle.read(len(LEGACY_MAGIC))
    if head.startswith(ZIP_MAGIC):
        if not zipfile.is_zipfile(path):
            raise CheckpointError(
                f"{path}: truncated or corrupt ({path.stat().st_size:,} bytes; a zip archive without its "
                "central directory): copy the file again"
            )
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if not any(n.endswith("/data.pkl") and n.count("/") == 1 for n in names):
            raise CheckpointError(
                f"{path}: a zip archive but not a PyTorch checkpoint (no <name>/data.pkl; it holds "
                f"{first_keys(names, 3) or 'nothing'})"
            )
        return
    if head != LEGACY_MAGIC:
        what = "the file is empty" if not head else f"it starts with {head[:8]!r}"
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint (in neither of torch.save's formats, zip or legacy; {what})"
        )


def _refused_pickle(path: Path, err: pickle.UnpicklingError) -> CheckpointError:
    """The error for a pickle torch's weights-only unpickler stopped: unsafe content, or corrupt data."""
    text = str(err)
    found = re.search(r"WeightsUnpickler error:(.*?)(?:Check the documentation|$)", text, re.DOTALL)
    reason = " ".join((found.group(1) if found else text).split())
    reason = re.sub(r"(was not an allowed global by default)\..*", r"\1", reason)[:300]
    if found is None or reason.startswith("Unsupported operand"):
        return CheckpointError(f"{path}: corrupt checkpoint: its pickled data cannot be read ({reason})")
    return CheckpointError(
        f"{path}: refused, untrusted pickle: the file holds objects other than tensors, plain containers "
        f"and the allow-listed numpy float64 scalar ({reason}). ecglab loads checkpoints with "
        "torch.load(weights_only=True) only, because unpickling anything else can run arbitrary code. "
        "If you trust the file, extract its weights once in a separate Python session, e.g. "
        f"`ckpt = torch.load({str(path)!r}, weights_only=False); torch.save(ckpt['state_dict'], "
        "'weights.pt')`, and pass weights.pt (a bare state_dict needs no allow-list)."
    )


def read_weights(path: str | Path, safe_globals: Sequence[Any] = ()) -> Any:
    """The content of a weights file, read with ``torch.load(weights_only=True)`` on the CPU (``safe_globals``
    allow-listed); raises CheckpointError, one line naming the file, for anything else (see the module
    docstring)."""
    path = Path(path)
    _check_file(path)
    try:
        with torch.serialization.safe_globals(list(safe_globals)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise _refused_pickle(path, err) from err
    except (RuntimeError, EOFError, KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
        # what torch raises reading a damaged file (a record cut short, a bad CRC, a broken legacy file)
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise CheckpointError(
            f"{path}: truncated or corrupt checkpoint, torch cannot read it ({type(err).__name__}: {first})"
        ) from err


def key_problems(state: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """Missing, unexpected and misshapen keys, one phrase per kind that occurs, naming the first few."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {first_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {first_keys(unexpected)}")
    if mismatched:
        shown = "; ".join(mismatched[:SHOWN_KEYS])
        more = f" and {len(mismatched) - SHOWN_KEYS} more" if len(mismatched) > SHOWN_KEYS else ""
        problems.append(f"{len(mismatched)} shape mismatch(es): {shown}{more}")
    return problems


def mismatch_error(path: str | Path, problems: list[str], hint: str = "") -> CheckpointError:
    """The one-line error for a state_dict that does not match the model."""
    return CheckpointError(f"{path}: does not match the model{hint}: " + "; ".join(problems))


def state_dict_of(path: str | Path, raw: Any) -> dict[str, torch.Tensor]:
    """``raw`` as a state_dict of tensors (a mapping of tensors, or a dict holding one under 'state_dict')."""
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping) or not raw:
        found = first_keys([str(k) for k in raw]) if isinstance(raw, Mapping) else type(raw).__name__
        raise CheckpointError(f"{path}: not a state_dict of tensors (found {found or 'an empty mapping'})")
    not_tensors = [str(k) for k, v in raw.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(f"{path}: state_dict entries that are not tensors: {first_keys(not_tensors)}")
    return {str(k): v for k, v in raw.items()}


def load_strictly(model: nn.Module, state: Mapping[str, torch.Tensor], path: str | Path) -> None:
    """Load ``state`` into ``model`` strictly, after checking its keys and shapes (CheckpointError if they
    do not match; the model is then unchanged)."""
    problems = key_problems(state, model.state_dict())
    if problems:
        raise mismatch_error(path, problems)
    model.load_state_dict(state, strict=True)
