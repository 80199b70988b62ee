"""Reading a decision from output spikes after each step, and early exit.

The decision after step ``t`` is the class with most output spikes in steps ``0..t`` (ties
to the lowest index: :func:`predict_from_counts`). Early exit
stops a sample at the first step where the margin between the two largest counts reaches
a threshold; a sample that never reaches it runs the whole frame. Torch, the emulator and
the Lava runner all decide with these functions; the module needs numpy only, so a
backend that decides does not import torch training code or Lava.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def predict_from_counts(counts: Any) -> np.ndarray:
    """The decision rule: the class with most output spikes; ties go to the lowest index.

    ``counts`` is an array or a torch tensor (on any device) of shape ``(..., classes)``."""
    if hasattr(counts, "detach"):
        counts = counts.detach().cpu().numpy()
    return np.asarray(counts).argmax(axis=-1)


@dataclass(frozen=True)
class ExitResult:
    """Per sample: ``exit_steps`` steps consumed (1..T) and the ``predictions`` read then."""

    exit_steps: np.ndarray
    predictions: np.ndarray

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.predictions == labels))

    @property
    def mean_exit_step(self) -> float:
        return float(self.exit_steps.mean())


def cumulative_counts(output_steps: np.ndarray) -> np.ndarray:
    """``(N, T, classes)`` spikes per step -> counts up to and including each step."""
    return np.cumsum(np.asarray(output_steps, dtype=np.int64), axis=1)


def margin(counts: np.ndarray) -> np.ndarray:
    """Largest minus second-largest count along the last axis."""
    top_two = np.sort(counts, axis=-1)[..., -2:]
    return top_two[..., 1] - top_two[..., 0]


def should_exit(counts: np.ndarray, threshold: float) -> np.ndarray:
    """The rule itself, for counts so far of any shape ``(..., classes)``."""
    return margin(counts) >= threshold


def early_exit(cumulative: np.ndarray, threshold: float) -> ExitResult:
    """Exit each sample at the first step whose margin reaches ``threshold``."""
    samples, steps = cumulative.shape[:2]
    reached = should_exit(cumulative, threshold)
    first = np.where(reached.any(axis=1), reached.argmax(axis=1), steps - 1)
    at_exit = cumulative[np.arange(samples), first]
    return ExitResult(first + 1, predict_from_counts(at_exit))


def accuracy_per_step(cumulative: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy of the decision read after each step, ``(T,)``."""
    return (predict_from_counts(cumulative) == np.asarray(labels)[:, None]).mean(axis=0)


def threshold_sweep(cumulative: np.ndarray, labels: np.ndarray,
                    thresholds: list[float]) -> list[dict[str, float]]:
    """Accuracy and mean exit step for each threshold."""
    rows = []
    for threshold in thresholds:
        result = early_exit(cumulative, threshold)
        rows.append({"threshold": float(threshold), "accuracy": result.accuracy(labels),
                     "mean_exit_step": result.mean_exit_step})
    return rows


def choose_threshold(cumulative: np.ndarray, labels: np.ndarray, thresholds: list[float],
                     tolerance: float) -> dict[str, float]:
    """The sweep row with the earliest mean exit whose accuracy is within ``tolerance`` of
    the full frame's. Give it held-out data: chosen on the test split, the exit's test
    accuracy would be an optimistic estimate. ``thresholds`` should hold one the margin
    never reaches (the full frame), so some row always qualifies."""
    full = early_exit(cumulative, float("inf")).accuracy(labels)
    rows = [row for row in threshold_sweep(cumulative, labels, thresholds) if row["accuracy"] >= full - tolerance]
    if not rows:
        raise ValueError(f"no threshold of {thresholds} keeps accuracy within {tolerance} of the full frame")
    return min(rows, key=lambda row: row["mean_exit_step"])
