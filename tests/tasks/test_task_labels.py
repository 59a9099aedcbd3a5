"""Task labels' rule (ecglab.tasks.labels.classify) against the interval rule of the brute force
(tests/task_fixtures.py): every combination of direction, threshold and censoring, the docstring's censored
examples, and a missing value, which is never a normal label. The other subjects: test_task_labels_*.py."""

from __future__ import annotations

import numpy as np
from task_fixtures import at, bf_classify, ecgs_frame, labs_frame, py_times
from task_label_checks import K, vectorised_blood_tests

from ecglab.tasks import labels as L


# ====================================================================== classify
def test_classify_equals_the_interval_rule_on_every_combination() -> None:
    thresholds = (3.5, 0.04)
    values = np.array([0.0, 0.01, 0.005, 0.04, 0.05, 3.0, 3.4999, 3.5, 3.5001, 5.0, 6.0])
    for direction in ("low", "high"):
        for threshold in thresholds:
            for censored in ("", "<", ">"):
                flags = np.full(len(values), censored, dtype=object)
                got = L.classify(values, flags, direction, threshold).tolist()
                want = [bf_classify(v, censored, direction, threshold) for v in values]
                assert got == want, (direction, threshold, censored)


def test_classify_censored_examples_of_the_docstring_and_bounds_equal_to_the_threshold() -> None:
    def one(value: float, censored: str, direction: str, threshold: float) -> int:
        return int(L.classify(np.array([value]), np.array([censored], dtype=object), direction, threshold)[0])

    assert one(0.01, "<", "high", 0.04) == 0  # "<0.01" is negative for a high target at 0.04
    assert one(0.01, "<", "low", 0.005) == -1  # ... and unknown for a low target at 0.005
    assert one(0.01, "<", "low", 0.04) == 1
    assert one(300, ">", "high", 5.0) == 1
    assert one(300, ">", "low", 5.0) == 0
    # bounds equal to the threshold: "<t" / ">t" decide only where the bound itself is on the negative side
    assert one(3.5, "<", "low", 3.5) == -1
    assert one(3.5, "<", "high", 3.5) == 0
    assert one(5.0, ">", "high", 5.0) == -1
    assert one(5.0, ">", "low", 5.0) == 0
    # plain values equal to the threshold are negative (strict inequalities)
    assert one(3.5, "", "low", 3.5) == 0
    assert one(5.0, "", "high", 5.0) == 0


def test_missing_value_is_never_a_normal_label() -> None:
    nan = float("nan")
    assert L.classify(np.array([nan, nan]), np.array(["", ""], dtype=object), "low", 3.5).tolist() == [-1, -1]
    labs = labs_frame([("A", "v", at(0), "K", nan)])
    ecgs = ecgs_frame([("A", at(0))])
    assert vectorised_blood_tests(labs, K) == {("A", "v", py_times(labs["time"])[0]): (-1, -1)}
    assert L.closest_labels(labs, ecgs, K, 60).tolist() == [[-1, -1]]
    assert L.forecast_labels(labs, ecgs, K, 60).tolist() == [[-1, -1]]
