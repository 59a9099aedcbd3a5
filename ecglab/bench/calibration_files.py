"""The run folder's calibration files, as ``ecglab.bench.engine.calibration_results`` writes them and the
leaderboard reads them: their names and columns (a module without torch, for the leaderboard)."""

from __future__ import annotations

from ecglab.bench.metrics.calibration import RELIABILITY_COLUMNS

CALIBRATION_FILE = "calibration.parquet"
RELIABILITY_FILE = "reliability.parquet"
# per target x calibration method ("none": the raw test probabilities)
RUN_CALIBRATION_COLUMNS = [
    "target",
    "calibration",
    "n",
    "n_pos",
    "brier",
    "ece",
    "ece_bins",
    "ece_binning",
    "note",
]
# per target x calibration method x bin
RUN_RELIABILITY_COLUMNS = ["target", "calibration", *RELIABILITY_COLUMNS]
RAW = "none"
