"""Benchmark suites: every (backbone, task, seed) pairing of a YAML file, run in order with the engine.

The file format and its validation are :mod:`ecglab.bench.suite.schema`'s job; running the pairings and the
report, :mod:`ecglab.bench.suite.runner`'s; the claims that keep workers sharing a runs folder from running
one pairing twice, :mod:`ecglab.bench.suite.claims`'s; shards and one worker per GPU,
:mod:`ecglab.bench.suite.workers`'. Their public names are re-exported here.
"""

from ecglab.bench.suite.claims import Claim, Held, Holder, acquire, claim_file
from ecglab.bench.suite.runner import Outcome, SuiteReport, check_paths, macro_test_auroc, run_suite, select
from ecglab.bench.suite.schema import BackboneEntry, Pairing, Suite, SuiteError, load_suite, parse_suite
from ecglab.bench.suite.workers import parse_devices, parse_shard, run_workers, shard_of

__all__ = [
    "BackboneEntry",
    "Claim",
    "Held",
    "Holder",
    "Outcome",
    "Pairing",
    "Suite",
    "SuiteError",
    "SuiteReport",
    "acquire",
    "check_paths",
    "claim_file",
    "load_suite",
    "macro_test_auroc",
    "parse_devices",
    "parse_shard",
    "parse_suite",
    "run_suite",
    "run_workers",
    "select",
    "shard_of",
]
