"""A fast WFDB reader: header text and signal files decoded with NumPy, bit-identical to ``wfdb.rdrecord``.

``wfdb.rdrecord`` spends most of its time parsing the header; this module parses it with two regular
expressions and reads the signal files with ``numpy.fromfile``. Records are read fast when they are
single-segment, every signal is in format 16, 212, 80, 24 or 32 (little-endian), has one sample per frame
and no skew, and the signals of each file are consecutive and share one format (``can_read_fast``).
``read_record`` hands every other record to ``wfdb.rdrecord``: the choice is made from the header, never
after an error.

Behaviour copied from wfdb 4.3.1 (``wfdb/io/_header.py``, ``_signal.py``, ``record.py``):
- header text is decoded as ASCII dropping other bytes; lines are stripped; lines starting with ``#`` are
  comments (kept with `` \\t#`` stripped from both ends); blank lines are skipped;
- absent fs is 250; a gain of 0 or none means 200; absent baseline is adc_zero (0 if that is absent too);
  absent units are "mV";
- a header without a sample count: the count is derived from the size of the first signal file, as wfdb
  does (``(size - byte_offset) // (bytes per sample x samples per frame of that file)``);
- the byte offset and format of a signal file are those of its first signal;
- physical = (digital - baseline) / gain in float64, and NaN where the digital sample is the format's
  invalid-sample value (-32768 for 16, -2048 for 212, -128 for 80 after the -128 shift, -2**23 for 24,
  -2**31 for 32).
Fields wfdb leaves as None when absent are given the WFDB defaults here: adc_resolution 0 (unspecified),
adc_zero 0, init_value adc_zero, checksum 0, block_size 0, sig_name "".
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecglab.errors import EcglabError

FAST_FORMATS = frozenset({"16", "212", "80", "24", "32"})

# Bytes per sample as (numerator, denominator), for every format with a fixed sample size (wfdb's table).
_BYTES_PER_SAMPLE = {
    "8": (1, 1),
    "16": (2, 1),
    "24": (3, 1),
    "32": (4, 1),
    "61": (2, 1),
    "80": (1, 1),
    "160": (2, 1),
    "212": (3, 2),
    "310": (4, 3),
    "311": (4, 3),
}
INVALID_SAMPLE = {"16": -(2**15), "212": -(2**11), "80": -(2**7), "24": -(2**23), "32": -(2**31)}
_OUT_DTYPE = {"16": np.int16, "212": np.int16, "80": np.int16, "24": np.int32, "32": np.int32}

_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_INT = r"[-+]?\d+"
_RECORD_NAME = re.compile(r"(?P<name>[^\s/]+)(?:/(?P<n_seg>\d+))?")
_FREQUENCY = re.compile(rf"(?P<fs>{_FLOAT})(?:/(?P<counter>{_FLOAT})(?:\((?P<base>{_FLOAT})\))?)?")
_TIME = re.compile(r"\d{1,2}(?::\d{1,2}){0,2}(?:\.\d{1,6})?")
_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{1,4}")
# Numeric fields may only be present when the ones before them are; the description (rest of the line)
# may follow any of them, as in wfdb's own pattern.
_SIGNAL_LINE = re.compile(
    rf"(?P<file>\S+)\s+(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>\d+))?(?:\+(?P<offset>\d+))?"
    rf"(?:\s+(?P<gain>{_FLOAT})(?:\((?P<baseline>{_INT})\))?(?:/(?P<units>\S*))?"
    rf"(?:\s+(?P<res>\d+)(?:\s+(?P<zero>{_INT})(?:\s+(?P<init>{_INT})"
    rf"(?:\s+(?P<checksum>{_INT})(?:\s+(?P<block>\d+))?)?)?)?)?)?"
    r"(?:\s+(?P<desc>.*))?"
)
_SEGMENT_LINE = re.compile(r"(?P<name>\S+)\s+(?P<length>\d+)")


class WfdbError(EcglabError):
    """A WFDB record is missing, unparseable, truncated, or not readable by the requested path.

    ``reason`` is a short, stable phrase for the data-quality report (the message has the details).
    """

    def __init__(self, message: str, reason: str = "unreadable record") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SignalSpec:
    """One signal line of a header, with WFDB defaults filled in."""

    file_name: str
    fmt: str
    samples_per_frame: int
    skew: int
    byte_offset: int
    adc_gain: float
    baseline: int
    units: str
    adc_resolution: int
    adc_zero: int
    init_value: int
    checksum: int
    block_size: int
    sig_name: str


@dataclass(frozen=True)
class WfdbHeader:
    """A parsed WFDB header. ``segments`` holds (name, length) of a multi-segment header's segment lines."""

    path: Path
    record_name: str
    n_sig: int
    fs: float
    n_samples: int
    base_time: str | None
    base_date: str | None
    signals: tuple[SignalSpec, ...]
    comments: tuple[str, ...]
    counter_freq: float | None = None
    base_counter: float | None = None
    segments: tuple[tuple[str, int], ...] = ()

    @property
    def sig_names(self) -> tuple[str, ...]:
        return tuple(s.sig_name for s in self.signals)

    def start_time(self) -> np.datetime64 | None:
        """base_date + base_time as datetime64[us] (fine beyond 2262); None when the header has no date."""
        if self.base_date is None:
            return None
        try:
            day, month, year = (int(part) for part in self.base_date.split("/"))
            start = datetime.datetime.combine(datetime.date(year, month, day), _parse_time(self.base_time))
        except ValueError as exc:
            raise WfdbError(
                f"{self.path}: invalid base date/time {self.base_date!r} {self.base_time!r}: {exc}",
                reason="invalid base date/time",
            ) from exc
        return np.datetime64(start, "us")


def _parse_time(text: str | None) -> datetime.time:
    """WFDB base time: [[HH:]MM:]SS[.ffffff]; absent means midnight."""
    if text is None:
        return datetime.time(0)
    whole, _, fraction = text.partition(".")
    fields = [int(part) for part in whole.split(":")]
    hour, minute, second = [0] * (3 - len(fields)) + fields
    return datetime.time(hour, minute, second, int(fraction.ljust(6, "0")) if fraction else 0)


def _hea_path(path: str | Path) -> str:
    text = os.fspath(path)
    return text if text.endswith(".hea") else text + ".hea"


def read_header(path: str | Path) -> WfdbHeader:
    """Parse a WFDB header; ``path`` is the .hea file or the record path without extension."""
    hea = _hea_path(path)
    try:
        with open(hea, "rb", buffering=0) as file:
            raw = file.read()
    except FileNotFoundError:
        raise WfdbError(f"{hea}: WFDB header file not found", reason="missing header file") from None
    except OSError as exc:
        raise WfdbError(
            f"{hea}: cannot read the WFDB header: {exc.strerror}", reason="unreadable header"
        ) from exc
    lines: list[tuple[int, str]] = []
    comments: list[str] = []
    for number, line in enumerate(raw.decode("ascii", errors="ignore").splitlines(), start=1):
        line = line.strip()
        if line.startswith("#"):
            comments.append(line.strip(" \t#"))
        elif line:
            lines.append((number, line))
    if not lines:
        raise WfdbError(
            f"{hea}: no record line (the header is empty or only comments)", reason="unparseable header"
        )
    record = _parse_record_line(hea, *lines[0])
    n_seg = record.pop("n_seg")
    body = lines[1:]
    signals: tuple[SignalSpec, ...] = ()
    segments: tuple[tuple[str, int], ...] = ()
    if n_seg is None:
        if len(body) != record["n_sig"]:
            raise WfdbError(
                f"{hea}: the record line declares {record['n_sig']} signals but {len(body)} follow"
            )
        signals = tuple(_parse_signal_line(hea, number, line) for number, line in body)
    else:
        if len(body) != n_seg:
            raise WfdbError(f"{hea}: the record line declares {n_seg} segments but {len(body)} follow")
        segments = tuple(_parse_segment_line(hea, number, line) for number, line in body)
    if record["n_samples"] is None:
        record["n_samples"] = (
            sum(length for _, length in segments) if n_seg else _infer_n_samples(hea, signals)
        )
    return WfdbHeader(path=Path(hea), signals=signals, comments=tuple(comments), segments=segments, **record)


def _parse_record_line(hea: str, number: int, line: str) -> dict:
    tokens = line.split()
    name = _RECORD_NAME.fullmatch(tokens[0])
    freq = _FREQUENCY.fullmatch(tokens[2]) if len(tokens) > 2 else None
    if (
        name is None
        or len(tokens) < 2
        or len(tokens) > 6
        or not tokens[1].isdigit()
        or (len(tokens) > 2 and freq is None)
        or (len(tokens) > 3 and not tokens[3].isdigit())
        or (len(tokens) > 4 and _TIME.fullmatch(tokens[4]) is None)
        or (len(tokens) > 5 and _DATE.fullmatch(tokens[5]) is None)
    ):
        raise WfdbError(
            f"{hea}: line {number}: cannot parse the record line {line!r} "
            "(expected: name[/segments] n_sig [fs[/counter[(base)]] [n_samples [HH:MM:SS [DD/MM/YYYY]]]])",
            reason="unparseable header",
        )
    n_seg = name["n_seg"]
    return {
        "record_name": name["name"],
        "n_seg": int(n_seg) if n_seg else None,
        "n_sig": int(tokens[1]),
        "fs": float(freq["fs"]) if freq else 250.0,
        "counter_freq": float(freq["counter"]) if freq and freq["counter"] else None,
        "base_counter": float(freq["base"]) if freq and freq["base"] else None,
        "n_samples": int(tokens[3]) if len(tokens) > 3 else None,
        "base_time": tokens[4] if len(tokens) > 4 else None,
        "base_date": tokens[5] if len(tokens) > 5 else None,
    }


def _parse_signal_line(hea: str, number: int, line: str) -> SignalSpec:
    match = _SIGNAL_LINE.fullmatch(line)
    if match is None:
        raise WfdbError(
            f"{hea}: line {number}: cannot parse the signal line {line!r} "
            "(expected: file format[xspf][:skew][+offset] [gain[(baseline)][/units] [resolution ...]])",
            reason="unparseable header",
        )
    file_name, fmt, spf, skew, offset, gain, baseline, units, res, zero, init, checksum, block, desc = (
        match.groups()
    )
    adc_zero = int(zero) if zero else 0
    adc_gain = float(gain) if gain else 0.0
    return SignalSpec(  # positional, in field order: measurably faster than keywords for 14 fields
        file_name,
        fmt,
        int(spf) if spf else 1,
        int(skew) if skew else 0,
        int(offset) if offset else 0,
        adc_gain or 200.0,  # 0 means the default, as in wfdb
        int(baseline) if baseline else adc_zero,
        units or "mV",
        int(res) if res else 0,
        adc_zero,
        int(init) if init else adc_zero,
        int(checksum) if checksum else 0,
        int(block) if block else 0,
        desc or "",
    )


def _parse_segment_line(hea: str, number: int, line: str) -> tuple[str, int]:
    match = _SEGMENT_LINE.fullmatch(line)
    if match is None:
        raise WfdbError(
            f"{hea}: line {number}: cannot parse the segment line {line!r} (expected: name length)",
            reason="unparseable header",
        )
    return match["name"], int(match["length"])


def _infer_n_samples(hea: str, signals: tuple[SignalSpec, ...]) -> int:
    """What wfdb does without a sample count: the first signal file's size over its frame size."""
    if not signals:
        return 0
    first = signals[0]
    if first.fmt not in _BYTES_PER_SAMPLE:
        raise WfdbError(
            f"{hea}: no sample count in the record line, and format {first.fmt} has no fixed sample size "
            "to derive it from the signal file",
            reason="unparseable header",
        )
    frame = sum(s.samples_per_frame for s in signals if s.file_name == first.file_name)
    path = os.path.join(os.path.dirname(hea), first.file_name)
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        raise WfdbError(
            f"{hea}: no sample count in the record line, and the signal file {path} to derive it from "
            "is missing",
            reason="missing signal file",
        ) from None
    numerator, denominator = _BYTES_PER_SAMPLE[first.fmt]
    return max(0, size - first.byte_offset) * denominator // (numerator * frame)


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


def read_digital(header: WfdbHeader) -> np.ndarray:
    """(n_samples, n_sig) digital samples: int16 for formats 16/212/80 (80 as stored value - 128), int32
    for 24/32 (and for a record mixing those with 16/212/80). Same values as wfdb's ``d_signal``."""
    why = _why_not_fast(header)
    if why is not None:
        raise WfdbError(
            f"{header.path}: not readable with NumPy because {why}; use read_record",
            reason="unsupported format",
        )
    directory = os.path.dirname(header.path)
    blocks = []
    for file_name, indices in _file_groups(header):
        first = header.signals[indices[0]]
        path = os.path.join(directory, file_name)
        blocks.append(
            _read_file(header.path, path, first.fmt, first.byte_offset, header.n_samples, len(indices))
        )
    if len(blocks) == 1:
        return blocks[0]
    out = np.empty((header.n_samples, header.n_sig), dtype=np.result_type(*blocks))
    start = 0
    for block in blocks:
        out[:, start : start + block.shape[1]] = block
        start += block.shape[1]
    return out


def _read_file(hea: Path, path: str, fmt: str, offset: int, n_samples: int, n_channels: int) -> np.ndarray:
    n_values = n_samples * n_channels
    numerator, denominator = _BYTES_PER_SAMPLE[fmt]
    n_bytes = -(-n_values * numerator // denominator)
    if fmt == "16":
        dtype = np.dtype("<i2")
    elif fmt == "32":
        dtype = np.dtype("<i4")
    else:
        dtype = np.dtype(np.uint8)
    try:
        raw = np.fromfile(path, dtype=dtype, count=n_bytes // dtype.itemsize, offset=offset)
    except FileNotFoundError:
        raise WfdbError(
            f"{path}: signal file not found (named in {hea})", reason="missing signal file"
        ) from None
    except OSError as exc:
        raise WfdbError(
            f"{path}: cannot read the signal file: {exc.strerror}", reason="unreadable signal file"
        ) from exc
    if raw.nbytes < n_bytes:
        available = max(0, os.path.getsize(path) - offset)
        raise WfdbError(
            f"{path}: truncated signal file: {n_samples} samples x {n_channels} signals in format {fmt} "
            f"need {n_bytes} bytes after byte offset {offset}, the file has {available}",
            reason="truncated signal file",
        )
    if fmt == "212":
        values = _decode_212(raw, n_values)
    elif fmt == "24":
        values = _decode_24(raw)
    elif fmt == "80":
        values = raw.astype(np.int16) - np.int16(128)
    else:
        values = raw.astype(_OUT_DTYPE[fmt], copy=False)
    return values.reshape(n_samples, n_channels)


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


def read_record(path: str | Path) -> tuple[WfdbHeader, np.ndarray, str]:
    """Header, digital samples and the reader used: "numpy" when ``can_read_fast``, else "wfdb"
    (``wfdb.rdrecord(physical=False, return_res=32)``, int32). The choice depends on the header only."""
    header = read_header(path)
    if can_read_fast(header):
        return header, read_digital(header), "numpy"
    import wfdb  # slow to import; only records outside the fast formats need it

    record_path = str(header.path)[: -len(".hea")]
    try:
        record = wfdb.rdrecord(record_path, physical=False, return_res=32)
    except (OSError, ValueError) as exc:
        raise WfdbError(f"{header.path}: wfdb.rdrecord failed: {exc}", reason="unreadable by wfdb") from exc
    return header, record.d_signal, "wfdb"
