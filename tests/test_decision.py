"""The early-exit rule: threshold 0 exits at once, an impossible threshold never does."""
import numpy as np
import pytest

from neurodeploy.core.decision import (accuracy_per_step, choose_threshold, cumulative_counts, early_exit, margin,
                                  threshold_sweep)

# 3 samples, 4 steps, 3 classes
STEPS = np.array([
    [[0, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]],   # class 0 leads by 2 after step 2
    [[0, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]],   # class 1 leads by 1, then 2
    [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]],   # silent: tie, class 0 by rule
])
LABELS = np.array([0, 1, 2])


def test_margin_and_cumulative_counts():
    counts = cumulative_counts(STEPS)
    assert counts[0, -1].tolist() == [2, 0, 1] and margin(counts)[0].tolist() == [0, 1, 2, 1]


def test_threshold_zero_exits_at_the_first_step():
    result = early_exit(cumulative_counts(STEPS), 0)
    assert result.exit_steps.tolist() == [1, 1, 1] and result.predictions.tolist() == [0, 1, 0]


def test_impossible_threshold_never_exits():
    result = early_exit(cumulative_counts(STEPS), 10**9)
    assert result.exit_steps.tolist() == [4, 4, 4]
    assert result.predictions.tolist() == [0, 1, 0]


def test_threshold_two_exits_where_the_margin_reaches_it():
    result = early_exit(cumulative_counts(STEPS), 2)
    assert result.exit_steps.tolist() == [3, 2, 4] and result.mean_exit_step == 3.0


def test_accuracy_per_step_and_sweep():
    counts = cumulative_counts(STEPS)
    assert accuracy_per_step(counts, LABELS).tolist() == [2 / 3] * 4  # silent sample 0 reads as class 0
    rows = threshold_sweep(counts, LABELS, [0, 2, 10**9])
    assert [row["mean_exit_step"] for row in rows] == [1.0, 3.0, 4.0]


def test_choose_threshold_takes_the_earliest_exit_within_the_tolerance():
    counts = cumulative_counts(STEPS)
    # full frame 2/3; threshold 0 (exit at step 1) keeps 2/3, so it wins at any tolerance
    assert choose_threshold(counts, LABELS, [10**9, 2, 0], tolerance=0.0)["threshold"] == 0
    # with labels where the early read is wrong for sample 1, only waiting keeps the accuracy
    late = np.array([0, 2, 0])
    late_steps = STEPS.copy()
    late_steps[1] = [[0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 0, 0]]
    late_counts = cumulative_counts(late_steps)
    assert choose_threshold(late_counts, late, [0, 1, 10**9], tolerance=0.0)["threshold"] == 10**9
    assert choose_threshold(late_counts, late, [0, 1, 10**9], tolerance=0.5)["threshold"] == 0
    with pytest.raises(ValueError, match="no threshold"):
        choose_threshold(late_counts, late, [0], tolerance=0.0)
