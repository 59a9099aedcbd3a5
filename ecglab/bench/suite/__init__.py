"""Benchmark suites: every (backbone, task, seed) pairing of a YAML file, run in order with the engine.

The file format and its validation are :mod:`ecglab.bench.suite.schema`'s job; running the pairings and the
report, :mod:`ecglab.bench.suite.runner`'s. Their public names are re-exported here.
"""

from ecglab.bench.suite.runner import Outcome, SuiteReport, check_paths, macro_test_auroc, run_suite, select
from ecglab.bench.suite.schema import BackboneEntry, Pairing, Suite, SuiteError, load_suite, parse_suite

__all__ = [
    "BackboneEntry",
    "Outcome",
    "Pairing",
    "Suite",
    "SuiteError",
    "SuiteReport",
    "check_paths",
    "load_suite",
    "macro_test_auroc",
    "parse_suite",
    "run_suite",
    "select",
]
