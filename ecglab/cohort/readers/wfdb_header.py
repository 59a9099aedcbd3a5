"""WFDB header files (.hea) parsed into a :class:`WfdbHeader`, field for field as ``wfdb.rdheader`` does.

``wfdb.rdrecord`` spends most of its time parsing the header; this module parses it with regular
expressions, a line at a time. Behaviour copied from wfdb 4.3.1 (``wfdb/io/_header.py``, ``_signal.py``,
``record.py``):
- header text is decoded as ASCII dropping other bytes; lines are stripped; lines starting with ``#`` are
  comments (kept with `` \\t#`` stripped from both ends); blank lines are skipped;
- absent fs is 250; a gain of 0 or none means 200; absent baseline is adc_zero (0 if that is absent too);
  absent units are "mV";
- a header without a sample count: the count is derived from the size of the first signal file, as wfdb
  does (``(size - byte_offset) // (bytes per sample x samples per frame of that file)``).
Fields wfdb leaves as None when absent are given the WFDB defaults here: adc_resolution 0 (unspecified),
adc_zero 0, init_value adc_zero, checksum 0, block_size 0, sig_name "".

Speed: a signal line with all nine fields and a plain format (``16``, not ``16x2:3+24``), the form
MIMIC-IV-ECG and most writers use, is split on whitespace and each field checked against its part of the
signal-line pattern (the conversion of the fields that lines of a dataset share is memoised); any other
line goes through the full pattern. The two give the same fields: each field of the pattern is delimited by
whitespace and only the description may contain it (``tests/cohort/test_wfdb_header_fast.py`` checks many
random lines against the pattern).
"""

from __future__ import annotations

import datetime
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ecglab.errors import EcglabError

__all__ = ["BYTES_PER_SAMPLE", "SignalSpec", "WfdbError", "WfdbHeader", "read_header"]

# Bytes per sample as (numerator, denominator), for every format with a fixed sample size (wfdb's table).
BYTES_PER_SAMPLE = {
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
# The gain field of a signal line on its own: gain[(baseline)][/units].
_GAIN_FIELD = re.compile(rf"(?P<gain>{_FLOAT})(?:\((?P<baseline>{_INT})\))?(?:/(?P<units>\S*))?")
_MEMO_SIZE = 4096
_fixed_memo: dict[tuple[str, ...], tuple | None] = {}
_new_tuple = tuple.__new__


class WfdbError(EcglabError):
    """A WFDB record is missing, unparseable, truncated, or not readable by the requested path.

    ``reason`` is a short, stable phrase for the data-quality report (the message has the details).
    """

    def __init__(self, message: str, reason: str = "unreadable record") -> None:
        super().__init__(message)
        self.reason = reason


class SignalSpec(NamedTuple):
    """One signal line of a header, with WFDB defaults filled in (immutable; a named tuple because a header
    has one per signal and building a frozen dataclass costs several times more)."""

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
    """A parsed WFDB header. ``segments`` holds (name, length) of a multi-segment header's segment lines.
    ``file`` is the .hea file's path as text, the same as ``str(path)`` (``path`` is built when asked for:
    building a Path per record costs more than parsing a signal line)."""

    file: str
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

    @functools.cached_property
    def path(self) -> Path:
        return Path(self.file)

    @functools.cached_property
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


def _as_path_text(text: str) -> str:
    """``str(Path(text))``: ``text`` itself when Path would not change it (no empty or ``.`` parts, no
    trailing slash), which is the usual case and saves building a Path."""
    if os.sep == "/" and text and "//" not in text and "/./" not in f"/{text}/" and text[-1] != "/":
        return text
    return str(Path(text))


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
    file = _as_path_text(hea)
    return WfdbHeader(file=file, signals=signals, comments=tuple(comments), segments=segments, **record)


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


def _is_int(token: str) -> bool:
    """``token`` (non-empty, ASCII) matches ``[-+]?\\d+``."""
    return (token[1:] if token[0] in "+-" else token).isdigit()


def _fixed_fields(key: tuple[str, ...]) -> tuple | None:
    """Format, gain, baseline, units, resolution, zero and block size of a signal line from its format,
    gain, resolution, zero and block-size fields, converted as ``_parse_signal_line`` does; None when a
    field is not of its part of the pattern. Memoised in ``_fixed_memo``: a dataset's lines mostly share
    these fields."""
    fmt, gain_field, res, zero, block = key
    fixed = None
    match = _GAIN_FIELD.fullmatch(gain_field)
    if match is not None and fmt.isdigit() and res.isdigit() and block.isdigit() and _is_int(zero):
        gain, baseline, units = match.groups()
        adc_zero = int(zero)
        # gain has digits (never 0.0 by absence); 0 means the default, as in wfdb
        fixed = (fmt, float(gain) or 200.0, int(baseline) if baseline else adc_zero, units or "mV")
        fixed += (int(res), adc_zero, int(block))
    if len(_fixed_memo) >= _MEMO_SIZE:
        _fixed_memo.clear()
    _fixed_memo[key] = fixed
    return fixed


def _split_signal_line(line: str) -> SignalSpec | None:
    """The signal line parsed by splitting on whitespace, when it has all nine fields (the description
    may be absent) and a plain format; None for any other line (the caller then uses the pattern).

    The same fields as the pattern: the file is the first whitespace-free run; a format of digits only
    leaves samples per frame, skew and offset absent; the gain field matches on its own exactly when the
    pattern matches it followed by whitespace; the five integer fields are single tokens; the description
    is the rest of the (stripped) line after the whitespace that follows the block size."""
    tokens = line.split(None, 8)
    if len(tokens) < 8:
        return None
    init, checksum = tokens[5], tokens[6]  # [-+]?\d+ each, checked inline (once per line of every header)
    if not (init[1:] if init[0] in "+-" else init).isdigit():
        return None
    if not (checksum[1:] if checksum[0] in "+-" else checksum).isdigit():
        return None
    key = (tokens[1], tokens[2], tokens[3], tokens[4], tokens[7])
    fixed = _fixed_memo.get(key, False)
    if fixed is False:
        fixed = _fixed_fields(key)
    if fixed is None:
        return None
    fmt, adc_gain, baseline, units, res, adc_zero, block = fixed
    desc = tokens[8] if len(tokens) == 9 else ""
    # tuple.__new__ skips the named tuple's Python-level __new__ (the fields are all given, in order)
    return _new_tuple(
        SignalSpec,
        (
            tokens[0],
            fmt,
            1,
            0,
            0,
            adc_gain,
            baseline,
            units,
            res,
            adc_zero,
            int(init),
            int(checksum),
            block,
            desc,
        ),
    )


def _parse_signal_line(hea: str, number: int, line: str) -> SignalSpec:
    spec = _split_signal_line(line) if line.isascii() else None
    return spec if spec is not None else _pattern_signal_line(hea, number, line)


def _pattern_signal_line(hea: str, number: int, line: str) -> SignalSpec:
    """Any signal line, parsed with the full pattern."""
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
    if first.fmt not in BYTES_PER_SAMPLE:
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
    numerator, denominator = BYTES_PER_SAMPLE[first.fmt]
    return max(0, size - first.byte_offset) * denominator // (numerator * frame)
