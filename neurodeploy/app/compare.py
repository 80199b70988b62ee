"""The encoding study: one network trained once per encoding and seed, measured side by side.

For each run: torch accuracy, and on the Loihi-faithful path (the emulator, bit-exact with
Lava fixed_pt) accuracy after every step, early exit over a threshold sweep, spikes and
synaptic operations per sample, and time and energy per sample for each hardware profile,
for the whole frame and up to the exit step.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

import numpy as np

from neurodeploy.core.atomic import write_json
from neurodeploy.core.decision import accuracy_per_step, choose_threshold, cumulative_counts, early_exit, threshold_sweep
from neurodeploy.core.netxfile import NetxNetwork
from neurodeploy.app.train_export import TrainedRun, train_and_export
from neurodeploy.core.progress import say, time_left

DEFAULT_THRESHOLDS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 10**9)
EXIT_TOLERANCE = 0.01  # the exit threshold is the earliest within 1 point of full-frame accuracy
VALIDATION_FRACTION = 0.1  # of the training images, held out of training to choose that threshold
CONFIDENCE = 0.95  # paired differences across seeds carry this two-sided t-interval
MAX_SEEDS = 1000  # seeds per encoding; each one trains a network


@dataclass
class RunMeasurement:
    encoding: str
    seed: int
    schedule: dict[str, Any]
    frame_steps: int
    torch_accuracy: float
    faithful_accuracy: float
    torch_accuracy_per_step: list[float]
    faithful_accuracy_per_step: list[float]
    exit_sweep: list[dict[str, float]]
    validation_samples: int
    validation_sweep: list[dict[str, float]]
    exit_threshold: float
    exit_accuracy: float
    mean_exit_step: float
    input_spikes: float
    layer_spikes: dict[str, float]
    activity: dict[str, float]
    activity_at_exit: dict[str, float]
    hardware: dict[str, dict[str, Any]]
    hardware_at_exit: dict[str, dict[str, Any]]


def compare_encodings(config_path: str, encodings: list[str], seeds: int, output: str,
            thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
            profiles: Optional[list[str]] = None, overrides: Optional[dict[str, Any]] = None,
            ray: Optional[str] = None) -> dict[str, Any]:
    """Train and measure every (encoding, seed); write compare.json, compare.md and plots.
    ``overrides`` (``--set``) apply to every run, under the encoding and seed. ``ray`` (an
    address or ``local``) runs each (encoding, seed) as a Ray task."""
    from neurodeploy.core.atomic import check_writable
    from neurodeploy.core.config import load_config
    from neurodeploy.core.errors import NeurodeployError
    from neurodeploy.app.report.compare_report import write_report

    if not 1 <= seeds <= MAX_SEEDS:
        raise NeurodeployError(f"--seeds {seeds}: expected 1..{MAX_SEEDS} seeds (each trains a network "
                               f"per encoding)")
    load_config(config_path, overrides)  # a bad config stops the study before its folder is made
    folder = check_writable(output, "compare folder")
    runs = [(config_path, {**(overrides or {}), "encoding.encoding": encoding, "seed": seed},
             str(folder / "runs" / f"{encoding}-seed{seed}"), thresholds, profiles)
            for encoding in encodings for seed in range(seeds)]
    if ray is None:
        measurements, began = [], time.perf_counter()
        for done, run in enumerate(runs):
            say(f"compare: run {done + 1}/{len(runs)} ({run[1]['encoding.encoding']}, seed {run[1]['seed']})"
                + time_left(done, len(runs) - done, time.perf_counter() - began))
            measurements.append(train_and_measure(*run))
    else:
        from neurodeploy.app.ray_tasks import ray_session, run_tasks

        with ray_session(ray):
            measurements = run_tasks(train_and_measure, runs)
    summary = {"config": config_path, "overrides": overrides or {}, "encodings": encodings, "seeds": seeds,
               "thresholds": list(thresholds), "validation_fraction": VALIDATION_FRACTION,
               "exit_tolerance": EXIT_TOLERANCE,
               "by_encoding": summarise(measurements), "claims": claim_differences(measurements),
               "runs": [asdict(run) for run in measurements]}
    write_json(folder / "compare.json", summary)
    write_report(summary, measurements, folder, config_path)
    return summary


def train_and_measure(config_path: str, overrides: dict[str, Any], output: str, thresholds: tuple[float, ...],
                      profiles: Optional[list[str]]) -> RunMeasurement:
    """One run of the study: train and export into ``output``, then measure it."""
    trained = train_and_export(config_path, overrides, output=output, validation_fraction=VALIDATION_FRACTION)
    return measure(trained, thresholds, profiles or trained.config.hardware)


def measure(trained: TrainedRun, thresholds: tuple[float, ...], profiles: list[str]) -> RunMeasurement:
    """Everything the study reports about one trained run. The exit threshold is chosen on
    the run's validation images (held out of training); the test split only measures it."""
    from neurodeploy.core.encoding import encode
    from neurodeploy.hardware.deployment import deployment_summary, validate_profiles
    from neurodeploy.backends.emulator.engine import emulate

    test, schedule, seed = trained.split.test, trained.manifest.schedule, trained.config.seed
    frame = schedule.frame_steps
    if trained.validation is None:
        raise ValueError(f"{trained.run_dir}: trained without a validation split to choose the exit threshold on")
    output = trained.manifest.layers[-1].name
    faithful = emulate(trained.network_file, test.images, schedule, record=True, seed=seed)
    cumulative = cumulative_counts(_frame_axis(faithful.recording[output], frame))
    held_out = emulate(trained.network_file, trained.validation.images, schedule, record=True, seed=seed)
    held_out_cumulative = cumulative_counts(_frame_axis(held_out.recording[output], frame))
    chosen = choose_threshold(held_out_cumulative, trained.validation.labels, list(thresholds), EXIT_TOLERANCE)
    test_exit = early_exit(cumulative, chosen["threshold"])
    input_steps = encode(test.images, schedule, seed=seed).flatten(1, -2).sum(1).numpy()
    layer_steps = {name: _frame_axis(trace, frame).reshape(len(test), frame, -1).sum(-1)
                   for name, trace in faithful.recording.items()}
    network = trained.read_network()
    activity = _activity(network, input_steps, layer_steps, np.full(len(test), frame))
    at_exit = _activity(network, input_steps, layer_steps, test_exit.exit_steps)
    reports = validate_profiles(trained.network_file, profiles)
    return RunMeasurement(
        encoding=schedule.encoding, seed=seed, schedule=schedule.to_dict(), frame_steps=frame,
        torch_accuracy=trained.torch_accuracy, faithful_accuracy=faithful.accuracy(test.labels),
        torch_accuracy_per_step=accuracy_per_step(cumulative_counts(trained.torch_output_steps), test.labels).tolist(),
        faithful_accuracy_per_step=accuracy_per_step(cumulative, test.labels).tolist(),
        exit_sweep=threshold_sweep(cumulative, test.labels, list(thresholds)),
        validation_samples=len(trained.validation),
        validation_sweep=threshold_sweep(held_out_cumulative, trained.validation.labels, list(thresholds)),
        exit_threshold=chosen["threshold"], exit_accuracy=test_exit.accuracy(test.labels),
        mean_exit_step=test_exit.mean_exit_step, input_spikes=float(input_steps.sum(1).mean()),
        layer_spikes={name: float(steps.sum(1).mean()) for name, steps in layer_steps.items()},  # frame only
        activity=activity, activity_at_exit=at_exit,
        hardware={name: deployment_summary(report, activity) for name, report in reports.items()},
        hardware_at_exit={name: deployment_summary(report, at_exit) for name, report in reports.items()})


def _frame_axis(trace, frame: int) -> np.ndarray:
    """A layer's window-aligned spikes ``(N, F, ...)`` on torch's frame-step axis: window step
    ``r`` answers frame step ``r + hops``; steps past the frame are the drain tail."""
    spikes = trace.spikes.astype(np.int64)
    shifted = np.zeros_like(spikes)
    shifted[:, trace.hops:] = spikes[:, :frame - trace.hops]
    return shifted


def _activity(network: NetxNetwork, input_steps: np.ndarray, layer_steps: dict[str, np.ndarray],
              exit_steps: np.ndarray) -> dict[str, float]:
    """Per-sample activity counting only frame steps before each sample's exit."""
    from neurodeploy.hardware.activity import activity_counts

    before = np.arange(input_steps.shape[1]) < exit_steps[:, None]
    layers = {name: float((steps * before).sum(1).mean()) for name, steps in layer_steps.items()}
    counts = activity_counts(network, float((input_steps * before).sum(1).mean()), layers, 1)
    counts["neuron_updates_per_sample"] = float(network.n_neurons * exit_steps.mean())
    return counts


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Mean of per-seed paired differences with its Student-t interval.

    Runs with the same seed share the data split and the initial weights, so a difference
    between two variants of one seed is paired; the interval is ``mean +- t(n-1) * sd /
    sqrt(n)`` (``sd`` with ``n - 1``), ``None`` for fewer than two seeds."""
    from scipy.stats import t

    values = np.asarray(values, dtype=float)
    n, mean = len(values), float(values.mean())
    low = high = None
    if n >= 2:
        half = float(t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n))
        low, high = mean - half, mean + half
    return {"mean": mean, "low": low, "high": high, "confidence": confidence, "n": n,
            "values": values.tolist()}


def claim_differences(runs: list[RunMeasurement], ours: str = "temporal_bit",
                      prior: str = "rate_bit") -> Optional[dict[str, dict[str, Any]]]:
    """Per seed, ``ours`` against ``prior`` on each seed claim, with t-intervals over seeds:
    accuracy in points, spikes, exit step and energy to exit as relative changes in %."""
    pairs = [(a, b) for a in runs for b in runs if a.encoding == ours and b.encoding == prior and a.seed == b.seed]
    if not pairs:
        return None
    picks = {"spikes": lambda run: run.activity["spikes_per_sample"], "mean_exit_step": lambda run: run.mean_exit_step,
             "energy_at_exit": _energy("hardware_at_exit", "loihi1")}
    result = {"accuracy_points": t_interval([100 * (a.faithful_accuracy - b.faithful_accuracy) for a, b in pairs])}
    for key, pick in picks.items():
        if all(pick(a) is not None and pick(b) for a, b in pairs):
            result[f"{key}_change_pct"] = t_interval([100 * (pick(a) / pick(b) - 1) for a, b in pairs])
    for row in result.values():
        row["seeds"] = [a.seed for a, _ in pairs]
    return result


def summarise(runs: list[RunMeasurement]) -> dict[str, dict[str, Any]]:
    """Mean and population std over seeds, per encoding."""
    summary: dict[str, dict[str, Any]] = {}
    for encoding in dict.fromkeys(run.encoding for run in runs):
        group = [run for run in runs if run.encoding == encoding]
        row = {"seeds": len(group), "frame_steps": group[0].frame_steps}
        for key, pick in _SUMMARY_FIELDS.items():
            values = [pick(run) for run in group]
            if all(value is not None for value in values):
                row[key] = {"mean": statistics.mean(values), "std": statistics.pstdev(values)}
        summary[encoding] = row
    return summary


def _energy(where: str, profile: str):
    def pick(run: RunMeasurement) -> Optional[float]:
        bounds = getattr(run, where)[profile].get("dynamic_energy_per_sample_j") if profile in getattr(run, where) else None
        return None if bounds is None else statistics.mean(bounds)
    return pick


_SUMMARY_FIELDS = {
    "torch_accuracy": lambda run: run.torch_accuracy,
    "faithful_accuracy": lambda run: run.faithful_accuracy,
    "input_spikes": lambda run: run.input_spikes,
    "network_spikes": lambda run: run.activity["spikes_per_sample"] - run.input_spikes,
    "synaptic_ops": lambda run: run.activity["synaptic_ops_per_sample"],
    "mean_exit_step": lambda run: run.mean_exit_step,
    "exit_accuracy": lambda run: run.exit_accuracy,
    "synaptic_ops_at_exit": lambda run: run.activity_at_exit["synaptic_ops_per_sample"],
    "loihi1_dynamic_energy_j": _energy("hardware", "loihi1"),
    "loihi1_dynamic_energy_at_exit_j": _energy("hardware_at_exit", "loihi1"),
    "loihi2_dynamic_energy_j": _energy("hardware", "loihi2"),
    "loihi2_dynamic_energy_at_exit_j": _energy("hardware_at_exit", "loihi2"),
}
