"""The loader's crop conversion gives exactly the float64 formula rounded to float32, on the float32 path
and on the float64 fallback."""

from __future__ import annotations

import numpy as np
import pytest

from ecglab.cohort.crops import copy_crops, crops_in_mv, exact_in_float32, physical_crops


def reference(digital: np.ndarray, gain: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    values = (digital.astype(np.float64) - baseline[:, None, :]) / gain[:, None, :]
    return values.astype(np.float32).transpose(0, 2, 1)


@pytest.mark.parametrize(
    ("gains", "baselines", "fast"),
    [
        ((200.0, 1000.0), (0.0, 0.0), True),
        ((6.5, 2.5), (12.0, -1024.0), True),
        ((2.93, 200.0), (0.0, 0.0), False),  # 2.93 is no float32 number
        ((200.0, 200.0), (0.5, 0.0), False),  # a fractional baseline
    ],
)
def test_conversion_matches_float64_bit_for_bit(gains: tuple, baselines: tuple, fast: bool) -> None:
    rng = np.random.default_rng(0)
    digital = rng.integers(-32768, 32768, size=(64, 500, 2)).astype(np.int16)
    gain = np.tile(np.array(gains), (64, 1))
    baseline = np.tile(np.array(baselines), (64, 1))
    assert exact_in_float32(gain, baseline) is fast
    got = physical_crops(digital, gain, baseline)
    want = reference(digital, gain, baseline)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.array_equal(got.view(np.int32), np.ascontiguousarray(want).view(np.int32))


def test_every_int16_over_common_gains_is_exact() -> None:
    digital = np.arange(-32768, 32768, dtype=np.int16).reshape(1, -1, 1)
    for gain in (200.0, 1000.0, 6.5, 409.6, 2.0**-3, 123.456):
        g, b = np.full((1, 1), gain), np.zeros((1, 1))
        got = physical_crops(digital, g, b)
        assert np.array_equal(got, reference(digital, g, b)), gain


def test_copy_crops_cuts_rows_and_selects_leads() -> None:
    shard = np.arange(40 * 3, dtype=np.int16).reshape(40, 3)
    crops = copy_crops(shard, np.array([0, 7, 30]), 10, [2, 0])
    assert crops.shape == (3, 10, 2)
    assert np.array_equal(crops[1], shard[7:17][:, [2, 0]])
    assert np.array_equal(copy_crops(shard, np.array([5]), 4, [0, 1, 2])[0], shard[5:9])


@pytest.mark.parametrize("baseline", [0.0, 7.0, 0.5])
@pytest.mark.parametrize("columns", [[0, 1, 2], [2, 0]])
def test_crops_in_mv_is_copy_then_float64_conversion(baseline: float, columns: list[int]) -> None:
    rng = np.random.default_rng(1)
    shard = rng.integers(-32768, 32768, size=(5000, 3)).astype(np.int16)
    starts = rng.integers(0, 4000, size=17)
    gain = np.tile(np.array([200.0, 1000.0, 6.5])[columns], (17, 1))
    base = np.full((17, len(columns)), baseline)
    got = crops_in_mv(shard, starts, 1000, columns, gain, base)
    want = reference(copy_crops(shard, starts, 1000, columns), gain, base)
    assert got.flags.c_contiguous and np.array_equal(got, want)
