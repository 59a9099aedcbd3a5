"""The fast signal-line parse of ecglab.cohort.readers.wfdb_header (split on whitespace, shared fields
memoised) gives the same SignalSpec as the full signal-line pattern, for many random lines near the common
nine-field form and for hand-picked awkward ones; a line it does not take still parses, by the pattern."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ecglab.cohort.readers import wfdb_header
from ecglab.cohort.readers.wfdb_io import WfdbError, read_header

FILES = ["r.dat", "a-b_c.dat", "~", "x(1).dat"]
# Valid and invalid spellings of each field; a line takes an invalid one now and then.
FORMATS = (["16", "212", "8", "0016"], ["16x2", "16:3", "16+24", "1a", "", "x16"])
GAINS = (
    ["200", "200.0(0)/mV", "0(5)/uV", "1e3/mV", ".5(-3)", "-2.5e-1(+7)/", "200/m(V)", "+7.", "0.0"],
    ["200(0", "abc", "200.(1)/mV/x", "1e", ""],
)
UNSIGNED = (["16", "0", "007"], ["-12", "+3", "1.5", "a1", "", "12x"])
SIGNED = (["16", "0", "-12", "+3", "007", "-0"], ["1.5", "-", "+", "a1", "", "12x", "+-1"])
DESCRIPTIONS = ["II", "V1  lead   x", "aVF\t#", "12", "-3", "a(b)/c"]


def random_line(rng: random.Random) -> str:
    def pick(choices: tuple[list[str], list[str]]) -> str:
        valid, invalid = choices
        return rng.choice(invalid if rng.random() < 0.04 else valid)

    fields = [rng.choice(FILES), pick(FORMATS), pick(GAINS), pick(UNSIGNED)]
    fields += [pick(SIGNED), pick(SIGNED), pick(SIGNED), pick(UNSIGNED)]
    fields = [f for f in fields if f]  # an empty choice drops the field
    if rng.random() < 0.7:
        fields.append(rng.choice(DESCRIPTIONS))
    gaps = [rng.choice([" ", "  ", "\t", " \t "]) for _ in fields]
    return "".join(f + g for f, g in zip(fields, gaps, strict=True)).strip()


def parse_by_pattern(line: str) -> wfdb_header.SignalSpec | None:
    try:
        return wfdb_header._pattern_signal_line("h.hea", 2, line)
    except WfdbError:
        return None


def test_fast_parse_equals_the_pattern_on_random_lines() -> None:
    rng = random.Random(11)
    taken = 0
    for _ in range(20_000):  # about 1 s
        line = random_line(rng)
        fast = wfdb_header._split_signal_line(line)
        if fast is None:
            continue
        taken += 1
        assert fast == parse_by_pattern(line), line
        assert [type(v) for v in fast] == [type(v) for v in parse_by_pattern(line)], line
    assert 5_000 < taken < 19_000  # the fast path is exercised, not only the fallback


@pytest.mark.parametrize(
    "line",
    [
        "40000000.dat 16 200.0(0)/mV 16 0 -23 4567 0 I",
        "40000000.dat 16 200.0(0)/mV 16 0 -23 4567 0",
        "r.dat 16 0(5)/uV 12 5 5 0 0 V1  with   spaces",
        "r.dat 16 200/ 12 -5 +5 -0 0 aVF",
        "r.dat 16 1e3 12 0 0 0 0 12",
        "r.dat 16 200.0(0)/mV 16 0 -23 4567 0 I\tII",
    ],
)
def test_fast_parse_equals_the_pattern(line: str) -> None:
    fast = wfdb_header._split_signal_line(line)
    assert fast is not None
    assert fast == parse_by_pattern(line)


@pytest.mark.parametrize(
    "line",
    [
        "r.dat 16x2 200 12 0 0 0 0 I",  # samples per frame
        "r.dat 16+24 200 12 0 0 0 0 I",  # byte offset
        "r.dat 16 200 12 0 0 0 I",  # a field short: "I" is the description of a shorter line
        "r.dat 16 200 12 0 x 0 0 I",  # a non-integer field starts the description
        "r.dat 16 200(0 12 0 0 0 0 I",  # not a gain field: everything after the format is description
    ],
)
def test_other_lines_go_to_the_pattern(tmp_path: Path, line: str) -> None:
    assert wfdb_header._split_signal_line(line) is None
    hea = tmp_path / "r.hea"
    hea.write_text(f"r 1 500 10\n{line}\n")
    assert read_header(hea).signals == (parse_by_pattern(line),)


def test_memo_is_bounded() -> None:
    for i in range(wfdb_header._MEMO_SIZE + 10):
        assert wfdb_header._split_signal_line(f"r.dat 16 {i + 1}(0)/mV 16 0 0 0 0 I") is not None
    assert len(wfdb_header._fixed_memo) <= wfdb_header._MEMO_SIZE
