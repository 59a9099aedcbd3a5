"""A fast WFDB reader: signal files decoded with NumPy, bit-identical to ``wfdb.rdrecord``.

The header comes from :mod:`ecglab.cohort.readers.wfdb_header` (re-exported here: ``read_header``,
``WfdbHeader``, ``SignalSpec``, ``WfdbError``); the signal files are read with ``numpy.fromfile``. Records
are read fast when they are single-segment, every signal is in format 16, 212, 80, 24 or 32
(little-endian), has one sample per frame and no skew, and the signals of each file are consecutive and
share one format (``can_read_fast``). ``read_record`` (``read_signals`` for a header already read) hands
every other record to ``wfdb.rdrecord``: the choice is made from the header, never after an error; any
exception wfdb raises becomes a WfdbError (reason ``unreadable by wfdb (<type>)``). Both first refuse a
header no reader can use (``check_values``: a sampling rate that is not a positive number, no signals, a
format WFDB does not define, zero samples per frame). ``read_failure`` turns any other exception raised
while reading one record into the (reason, example) an ingest counts it under. A record
whose signals all lie in one format-16 file (``can_read_into``) can be read straight into the caller's int16
array (``read_digital(header, out=...)``), which saves a copy per record when an ingest fills a block.

Behaviour copied from wfdb 4.3.1 (``wfdb/io/_signal.py``, ``record.py``):
- the byte offset and format of a signal file are those of its first signal;
- physical = (digital - baseline) / gain in float64, and NaN where the digital sample is the format's
  invalid-sample value (-32768 for 16, -2048 for 212, -128 for 80 after the -128 shift, -2**23 for 24,
  -2**31 for 32).
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ecglab.cohort.readers.wfdb_header import BYTES_PER_SAMPLE, SignalSpec, WfdbError, WfdbHeader, read_header

__all__ = [
    "FAST_FORMATS",
    "INVALID_SAMPLE",
    "WFDB_FORMATS",
    "SignalSpec",
    "WfdbError",
    "WfdbHeader",
    "can_read_fast",
    "can_read_into",
    "check_values",
    "describe_exception",
    "read_digital",
    "read_failure",
    "read_header",
    "read_physical",
    "read_record",
    "read_signals",
    "record_path",
]

FAST_FORMATS = frozenset({"16", "212", "80", "24", "32"})
# Every storage format the WFDB specification defines and wfdb-python reads (its DAT_FMTS).
WFDB_FORMATS = frozenset({"8", "16", "24", "32", "61", "80", "160", "212", "310", "311", "508", "516", "524"})

INVALID_SAMPLE = {"16": -(2**15), "212": -(2**11), "80": -(2**7), "24": -(2**23), "32": -(2**31)}
_NATIVE_INT16 = np.dtype(np.int16)
_OUT_DTYPE = {"16": np.int16, "212": np.int16, "80": np.int16, "24": np.int32, "32": np.int32}


def _file_groups(header: WfdbHeader) -> list[tuple[str, list[int]]]:
    """Signal files in header order, each with the indices of its signals."""
    groups: dict[str, list[int]] = {}
    for index, signal in enumerate(header.signals):
        groups.setdefault(signal.file_name, []).append(index)
    return list(groups.items())


def _why_not_fast(header: WfdbHeader) -> str | None:
    if header.segments or len(header.signals) != header.n_sig:
        return "it is a multi-segment record"
    for signal in header.signals:
        if signal.fmt not in FAST_FORMATS:
            fast = ", ".join(sorted(FAST_FORMATS))
            return f"signal {signal.sig_name!r} is in format {signal.fmt} (fast formats: {fast})"
        if signal.samples_per_frame != 1:
            return f"signal {signal.sig_name!r} has {signal.samples_per_frame} samples per frame"
        if signal.skew:
            return f"signal {signal.sig_name!r} has a skew of {signal.skew}"
        if signal.file_name == "~":
            return f"signal {signal.sig_name!r} has no signal file (~)"
    for file_name, indices in _file_groups(header):
        if indices != list(range(indices[0], indices[-1] + 1)):
            return f"the signals of {file_name} are not on consecutive header lines"
        if len({header.signals[i].fmt for i in indices}) > 1:
            return f"the signals of {file_name} mix formats"
    return None


def can_read_fast(header: WfdbHeader) -> bool:
    """True when ``read_digital`` can read the record with NumPy (see the module docstring)."""
    return _why_not_fast(header) is None


def can_read_into(header: WfdbHeader) -> bool:
    """True when ``read_digital(header, out=...)`` can fill an int16 array: read fast, every signal in
    format 16, all in one signal file (as MIMIC-IV-ECG stores them)."""
    signals = header.signals  # what _why_not_fast checks, for one file of format 16
    if sys.byteorder != "little" or header.segments or not signals or len(signals) != header.n_sig:
        return False
    file_name = signals[0].file_name
    return file_name != "~" and all(
        s.fmt == "16" and s.file_name == file_name and s.samples_per_frame == 1 and not s.skew
        for s in signals
    )


def read_digital(header: WfdbHeader, out: np.ndarray | None = None) -> np.ndarray:
    """(n_samples, n_sig) digital samples: int16 for formats 16/212/80 (80 as stored value - 128), int32
    for 24/32 (and for a record mixing those with 16/212/80). Same values as wfdb's ``d_signal``.

    ``out``: a C-contiguous native int16 array of shape (n_samples, n_sig) to read into and return, for a
    record that ``can_read_into`` (a ValueError otherwise); on a WfdbError its contents are undefined."""
    directory = os.path.dirname(header.file)
    if out is not None:
        if not can_read_into(header):
            raise ValueError(f"{header.file}: out= needs every signal in format 16 in one signal file")
        if out.shape != (header.n_samples, header.n_sig) or out.dtype != _NATIVE_INT16:
            wanted = f"{header.n_samples} x {header.n_sig} int16"
            raise ValueError(f"out must be {wanted}, not {out.shape} {out.dtype}")
        if not out.flags.c_contiguous:
            raise ValueError("out must be C-contiguous")
        first = header.signals[0]
        _read_into(header.file, os.path.join(directory, first.file_name), first.byte_offset, out)
        return out
    why = _why_not_fast(header)
    if why is not None:
        raise WfdbError(
            f"{header.file}: not readable with NumPy because {why}; use read_record",
            reason="unsupported format",
        )
    blocks = []
    for file_name, indices in _file_groups(header):
        first = header.signals[indices[0]]
        path = os.path.join(directory, file_name)
        blocks.append(
            _read_file(header.file, path, first.fmt, first.byte_offset, header.n_samples, len(indices))
        )
    if len(blocks) == 1:
        return blocks[0]
    out = np.empty((header.n_samples, header.n_sig), dtype=np.result_type(*blocks))
    start = 0
    for block in blocks:
        out[:, start : start + block.shape[1]] = block
        start += block.shape[1]
    return out


def _read_file(hea: str, path: str, fmt: str, offset: int, n_samples: int, n_channels: int) -> np.ndarray:
    n_values = n_samples * n_channels
    numerator, denominator = BYTES_PER_SAMPLE[fmt]
    n_bytes = -(-n_values * numerator // denominator)
    if fmt == "16":
        dtype = np.dtype("<i2")
    elif fmt == "32":
        dtype = np.dtype("<i4")
    else:
        dtype = np.dtype(np.uint8)
    with _signal_file(hea, path):
        raw = np.fromfile(path, dtype=dtype, count=n_bytes // dtype.itemsize, offset=offset)
    if raw.nbytes < n_bytes:
        raise _truncated(path, n_samples, n_channels, fmt, n_bytes, offset)
    if fmt == "212":
        values = _decode_212(raw, n_values)
    elif fmt == "24":
        values = _decode_24(raw)
    elif fmt == "80":
        values = raw.astype(np.int16) - np.int16(128)
    else:
        values = raw.astype(_OUT_DTYPE[fmt], copy=False)
    return values.reshape(n_samples, n_channels)


def _read_into(hea: str, path: str, offset: int, out: np.ndarray) -> None:
    """Fill ``out`` (format 16, little-endian on disk and in memory) from ``path`` at byte ``offset``; the
    same errors as ``_read_file``."""
    view = memoryview(out).cast("B")
    filled = 0
    with _signal_file(hea, path), open(path, "rb", buffering=0) as handle:
        if offset:
            handle.seek(offset)
        while filled < view.nbytes:
            got = handle.readinto(view[filled:])
            if not got:
                break
            filled += got
    if filled < view.nbytes:
        raise _truncated(path, *out.shape, "16", view.nbytes, offset)


@contextmanager
def _signal_file(hea: str, path: str) -> Iterator[None]:
    """Reading ``path``: a missing or unreadable signal file becomes a WfdbError with its reason."""
    try:
        yield
    except FileNotFoundError:
        raise WfdbError(
            f"{path}: signal file not found (named in {hea})", reason="missing signal file"
        ) from None
    except OSError as exc:
        raise WfdbError(
            f"{path}: cannot read the signal file: {exc.strerror}", reason="unreadable signal file"
        ) from exc


def _truncated(path: str, n_samples: int, n_channels: int, fmt: str, n_bytes: int, offset: int) -> WfdbError:
    available = max(0, os.path.getsize(path) - offset)
    return WfdbError(
        f"{path}: truncated signal file: {n_samples} samples x {n_channels} signals in format {fmt} "
        f"need {n_bytes} bytes after byte offset {offset}, the file has {available}",
        reason="truncated signal file",
    )


def _decode_212(raw: np.ndarray, n_values: int) -> np.ndarray:
    """Two 12-bit two's-complement samples per 3 bytes; the high nibbles of both share the middle byte."""
    if raw.size % 3:
        raw = np.concatenate([raw, np.zeros(3 - raw.size % 3, dtype=np.uint8)])
    triplets = raw.reshape(-1, 3).astype(np.uint16)
    pairs = np.empty((triplets.shape[0], 2), dtype=np.uint16)
    pairs[:, 0] = triplets[:, 0] | ((triplets[:, 1] & 0x0F) << 8)
    pairs[:, 1] = triplets[:, 2] | ((triplets[:, 1] & 0xF0) << 4)
    pairs <<= 4
    signed = pairs.view(np.int16)
    signed >>= 4  # arithmetic shift: sign-extends bit 11
    return signed.reshape(-1)[:n_values]


def _decode_24(raw: np.ndarray) -> np.ndarray:
    """Little-endian 24-bit two's complement, widened to int32 by appending a sign byte."""
    triplets = raw.reshape(-1, 3)
    quads = np.empty((triplets.shape[0], 4), dtype=np.uint8)
    quads[:, :3] = triplets
    quads[:, 3] = (triplets[:, 2] >> 7) * np.uint8(0xFF)
    return quads.view("<i4").reshape(-1).astype(np.int32, copy=False)


def read_physical(header: WfdbHeader, digital: np.ndarray | None = None) -> np.ndarray:
    """float64 (digital - baseline) / gain with NaN at invalid samples, equal to wfdb's ``p_signal``.
    ``digital`` (from ``read_digital(header)``) saves reading the files again."""
    if digital is None:
        digital = read_digital(header)
    # The same IEEE operations as wfdb (subtract, then divide). A scalar where all channels agree is much
    # faster than broadcasting a per-channel vector and gives the same bits; so does skipping "- 0.0".
    baseline = _per_channel([s.baseline for s in header.signals], np.float64)
    gain = _per_channel([s.adc_gain for s in header.signals], np.float64)
    if baseline.any():
        physical = np.subtract(digital, baseline, dtype=np.float64)
        physical /= gain
    else:
        physical = np.divide(digital, gain, dtype=np.float64)
    invalid_value = _per_channel([INVALID_SAMPLE[s.fmt] for s in header.signals], digital.dtype)
    # Each invalid-sample value is the least value of its format: none can occur above the largest of them.
    if digital.size and digital.min() <= invalid_value.max():
        np.copyto(physical, np.nan, where=digital == invalid_value)
    return physical


def _per_channel(values: list, dtype: type | np.dtype) -> np.ndarray:
    """One value per channel, as a 0-d array when all are equal."""
    if len(set(values)) == 1:
        return np.array(values[0], dtype=dtype)
    return np.array(values, dtype=dtype)


def record_path(root: str, path: str) -> str:
    """``str(Path(root) / path)``, joined as text when that gives the same (an absolute, normalised root and
    a relative path without empty or ``.`` parts), which saves building Paths once per record."""
    plain = (
        os.sep == "/"
        and _plain_root(root)
        and path
        and path[0] != "/"
        and path[-1] != "/"
        and "//" not in path
        and "/./" not in f"/{path}/"
    )
    if not plain:
        return str(Path(root) / path)
    return root + path if root == "/" else f"{root}/{path}"


@functools.lru_cache(maxsize=64)
def _plain_root(root: str) -> bool:
    return root.startswith("/") and not root.startswith("//") and str(Path(root)) == root


def check_values(header: WfdbHeader) -> None:
    """Refuse, with a WfdbError and its reason, a header whose values no reader can use: a sampling rate
    that is not a positive finite number (``invalid sampling rate``), no signals (``no signals``), a format
    that WFDB does not define (``unknown signal format``) or zero samples per frame (``invalid samples per
    frame``). wfdb itself would divide by the rate or fail with a KeyError deep in its reader."""
    if not (math.isfinite(header.fs) and header.fs > 0):
        raise WfdbError(
            f"{header.file}: sampling rate {header.fs:g} Hz is not a positive number",
            reason="invalid sampling rate",
        )
    if header.n_sig == 0:
        raise WfdbError(f"{header.file}: the record has no signals", reason="no signals")
    for signal in header.signals:
        if signal.fmt not in WFDB_FORMATS:
            known = ", ".join(sorted(WFDB_FORMATS, key=int))
            raise WfdbError(
                f"{header.file}: signal {signal.sig_name!r} has format {signal.fmt}, which WFDB does not "
                f"define (formats: {known})",
                reason="unknown signal format",
            )
        if signal.samples_per_frame < 1:
            raise WfdbError(
                f"{header.file}: signal {signal.sig_name!r} has {signal.samples_per_frame} samples per frame",
                reason="invalid samples per frame",
            )


def read_failure(exc: Exception, record: str) -> tuple[str, str]:
    """The (reason, example) under which an ingest counts a record whose read raised ``exc``: a WfdbError's
    own reason and the record (with the type and first line of what wfdb or NumPy raised, if one did); for
    any other exception (from NumPy or wfdb on that record) ``read error (<type>)`` and the record with the
    type and first line of the message."""
    if isinstance(exc, WfdbError):
        cause = exc.__cause__  # what wfdb raised, for a record it could not read
        wrapped = cause is not None and not isinstance(cause, OSError | WfdbError)
        return exc.reason, f"{record}: {describe_exception(cause)}" if wrapped else record
    return f"read error ({type(exc).__name__})", f"{record}: {describe_exception(exc)}"


def describe_exception(exc: BaseException) -> str:
    """``<type>: <first line of the message>``, e.g. ``KeyError: '999'``."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def read_record(path: str | Path) -> tuple[WfdbHeader, np.ndarray, str]:
    """Header, digital samples and the reader used: "numpy" when ``can_read_fast``, else "wfdb"
    (``wfdb.rdrecord(physical=False, return_res=32)``, int32). The choice depends on the header only."""
    header = read_header(path)
    digital, how = read_signals(header)
    return header, digital, how


def read_signals(header: WfdbHeader) -> tuple[np.ndarray, str]:
    """The digital samples of a record whose header is read, and the reader used (as ``read_record``), after
    ``check_values``."""
    check_values(header)
    if can_read_fast(header):
        return read_digital(header), "numpy"
    import wfdb  # slow to import; only records outside the fast formats need it

    record_path = header.file[: -len(".hea")]
    try:
        record = wfdb.rdrecord(record_path, physical=False, return_res=32)
    except Exception as exc:  # wfdb raises bare Exception, KeyError, ... on records it cannot read
        raise WfdbError(
            f"{header.file}: wfdb.rdrecord failed: {describe_exception(exc)}",
            reason=f"unreadable by wfdb ({type(exc).__name__})",
        ) from exc
    if getattr(record, "d_signal", None) is None:  # e.g. a multi-segment record of empty ("~") segments
        raise WfdbError(
            f"{header.file}: wfdb.rdrecord read no samples", reason="unreadable by wfdb (no samples)"
        )
    return record.d_signal, "wfdb"
