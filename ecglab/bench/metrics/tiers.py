"""AnyECG-Lab's AUROC tiers and the number of targets in each."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

TIER_HIGH = 0.65  # AnyECG-Lab: AUROC >= 0.65
TIER_LOW = 0.55  # AnyECG-Lab: 0.55 <= AUROC < 0.65; below 0.55 the lowest tier


def tier_counts(aurocs: ArrayLike) -> dict[str, int]:
    """Targets per AnyECG-Lab tier: AUROC >= 0.65, 0.55 <= AUROC < 0.65, AUROC < 0.55; NaN (undefined)
    AUROCs are counted apart, never in a tier."""
    a = np.asarray(aurocs, dtype=np.float64).ravel()
    defined = a[~np.isnan(a)]
    return {
        ">=0.65": int(np.sum(defined >= TIER_HIGH)),
        "0.55-0.65": int(np.sum((defined >= TIER_LOW) & (defined < TIER_HIGH))),
        "<0.55": int(np.sum(defined < TIER_LOW)),
        "undefined": int(a.size - defined.size),
    }
