"""compare.md and the study's plots, from the measurements of `neurodeploy compare`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from neurodeploy.core.atomic import atomic_path
from neurodeploy.core.figures import pyplot, save_figure
from neurodeploy.app.report.plots import describe_network

PLOTS = ("accuracy_vs_step.png", "input_rasters.png", "spikes_per_layer.png", "early_exit.png")
LABEL_GAP = 0.6  # frame steps between two threshold labels of early_exit.png (closer ones are left unlabelled)


def write_report(summary: dict[str, Any], runs: list, folder: Path, config_path: str) -> None:
    from neurodeploy.core.config import load_config

    config = load_config(config_path, summary.get("overrides") or None)
    study = f"{config.data.dataset}, {describe_network(config)}, {summary['seeds']} seed(s) per encoding"
    _accuracy_vs_step(runs, folder / PLOTS[0], study)
    _input_rasters(runs, config, folder / PLOTS[1], study)
    _spikes_per_layer(runs, folder / PLOTS[2], study)
    _early_exit(runs, folder / PLOTS[3], study)
    with atomic_path(folder / "compare.md") as temporary:
        temporary.write_text(markdown(summary))


SOURCE = "the figure comes from a secondary summary of arXiv 2512.03879, not from the paper's abstract"


def markdown(summary: dict[str, Any]) -> str:
    rows = summary["by_encoding"]
    settings = "".join(f", `{key}={value}`" for key, value in summary.get("overrides", {}).items())
    lines = [f"# Encoding comparison: `{summary['config']}`{settings}, {summary['seeds']} seed(s)", "",
             "Loihi-faithful = the emulator, bit-exact with Lava `fixed_pt`. Spikes, synaptic ops "
             "and energy are per sample over the frame (the drain tail excluded); energy is Loihi 1's "
             "dynamic energy (midpoint of the profile's range), then Loihi 2's where the summary carries it "
             "(per-op energies calibrated on Intel's measured PilotNet SNN, docs/hardware.md). Each run "
             f"trains on {100 * (1 - summary['validation_fraction']):.0f} % of the training images; the "
             f"other {100 * summary['validation_fraction']:.0f} % (seeded, stratified) choose its exit "
             f"threshold, the earliest margin whose accuracy there stays within {100 * summary['exit_tolerance']:.0f} "
             "point of the full frame. The test split only measures that threshold. Values are mean "
             "+- std (population) over seeds.", "",
             "| encoding | steps | torch acc. | Loihi-faithful acc. | input spikes | network spikes | "
             "synaptic ops | exit step (acc.) | synaptic ops to exit | energy full / to exit (nJ) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for encoding, row in rows.items():
        lines.append(
            f"| {encoding} | {row['frame_steps']} | {_pct(row['torch_accuracy'])} | "
            f"{_pct(row['faithful_accuracy'])} | {_num(row['input_spikes'])} | "
            f"{_num(row['network_spikes'])} | {_num(row['synaptic_ops'])} | "
            f"{_num(row['mean_exit_step'])} ({_pct(row['exit_accuracy'])}) | "
            f"{_num(row['synaptic_ops_at_exit'])} | {_energy(row)} |")
    lines += ["", "## The seed paper's claims (hybrid temporal-bit vs hybrid rate-bit), on this data", "",
              "Each seed's temporal_bit run is paired with its rate_bit run (same split, same initial "
              "weights); the interval is the 95 % Student-t interval of the per-seed differences. A claim "
              "holds when the whole interval lies on its side of zero.", ""]
    lines += claims(summary.get("claims")) or ["Both `temporal_bit` and `rate_bit` are needed to judge the claims."]
    lines += ["", "## Graded spikes", "", *GRADED, "",
              "Plots: " + ", ".join(f"`{name}`" for name in PLOTS)]
    return "\n".join(lines) + "\n"


GRADED = [
    "Not run as a fifth input code: the training and emulator path cannot carry it yet. Lava's "
    "Dense does take graded input (with `num_message_bits > 0` it computes `W @ s` on integer "
    "payloads, and `netx.hdf5.Network` sets that for the first layer from `input_message_bits`). "
    "Missing here:",
    "",
    "- an encoder: `neurodeploy.core.encoding` has rate, ttfs, rate_bit and temporal_bit, all binary; a "
    "graded code (the pixel as an integer payload, in one step or a few) needs its own frame schedule;",
    "- training and export: SLAYER's Dense would accept real-valued input, but the float scale of "
    "a payload must match the integer `W @ x` of the deployed layer (payload bits and weight "
    "exponent), which the exporter does not set;",
    "- the Lava generator: its output port is `bool` with precision 1 in fixed_pt, and the runner "
    "builds netx with the default `input_message_bits = 0`; neither the manifest nor the runner "
    "carries a payload width;",
    "- the emulator: its inputs must be 0/1 spikes, and it refuses any layer with `messageBits > 0`; "
    "a graded first synapse (integer `W @ x`, the accumulator's 24-bit wrap with larger sums) is "
    "not modelled, so there would be no bit-exact path to measure it on.",
]


def claims(paired: Optional[dict[str, Any]]) -> list[str]:
    """Each seed claim with its paired difference, interval and verdict here."""
    if not paired:
        return []
    result = [_claim("Accuracy equal or better (CIFAR-10 92.3 % vs 91.5 %, " + SOURCE + ")",
                     paired["accuracy_points"], "points", claimed=None, better="higher"),
              _claim("About 12 % fewer spikes, input + network (" + SOURCE + ")",
                     paired.get("spikes_change_pct"), "%", claimed=-12, better="lower"),
              _claim("About 15 % lower latency with early exit, as the mean exit step (" + SOURCE + ")",
                     paired.get("mean_exit_step_change_pct"), "%", claimed=-15, better="lower"),
              _claim("About 10 % less energy per inference, Loihi 1 dynamic to exit (" + SOURCE + ")",
                     paired.get("energy_at_exit_change_pct"), "%", claimed=-10, better="lower")]
    return [line for line in result if line]


def _claim(title: str, stat: Optional[dict[str, Any]], unit: str, claimed: Optional[float],
           better: str) -> str:
    """One claim: the mean paired difference, its interval and the verdict that follows."""
    if stat is None:
        return ""
    per_seed = ", ".join(f"{value:+.2f}" for value in stat["values"])
    text = f"- {title}: {stat['mean']:+.2f} {unit} (per seed {per_seed})"
    if stat["low"] is None:
        return text + ": no interval from one seed, **not judged**."
    text += f", 95 % CI [{stat['low']:+.2f}, {stat['high']:+.2f}] {unit}"
    worse = stat["low"] > 0 if better == "lower" else stat["high"] < 0
    gain = stat["high"] < 0 if better == "lower" else stat["low"] > 0
    if claimed is None:  # equal or better: only a significant loss refutes it
        verdict = "does not hold" if worse else ("holds (better)" if gain else "holds (no difference within the CI)")
    else:
        verdict = "holds" if gain else ("does not hold (the opposite)" if worse else "not shown (the CI includes 0)")
        inside = stat["low"] <= claimed <= stat["high"]
        verdict += f"; the claimed {claimed:+g} {unit} lies {'inside' if inside else 'outside'} the CI"
    return text + f": **{verdict}**."


def _pct(stat: dict[str, float]) -> str:
    return f"{100 * stat['mean']:.2f} % +- {100 * stat['std']:.2f}"


def _num(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.1f}"


def _energy(row: dict[str, Any]) -> str:
    shown = [f"{chip}: {1e9 * row[f'{chip}_dynamic_energy_j']['mean']:.1f} / "
             f"{1e9 * row[f'{chip}_dynamic_energy_at_exit_j']['mean']:.1f}"
             for chip in ("loihi1", "loihi2") if f"{chip}_dynamic_energy_j" in row]
    return "; ".join(shown) or "n/a"


def _by_encoding(runs: list) -> dict[str, list]:
    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(run.encoding, []).append(run)
    return groups


def _integer_steps(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))


def _accuracy_vs_step(runs: list, path: Path, study: str) -> None:
    """Per encoding, the Loihi-faithful curve (solid, dots) and torch's (dashed, crosses, drawn
    over it: where they coincide the crosses sit on the dots)."""
    plt = pyplot()

    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    for encoding, group in _by_encoding(runs).items():
        faithful = np.mean([run.faithful_accuracy_per_step for run in group], axis=0)
        line, = axis.plot(np.arange(1, len(faithful) + 1), 100 * faithful, marker="o", label=f"{encoding} Loihi-faithful")
        torch_curve = np.mean([run.torch_accuracy_per_step for run in group], axis=0)
        axis.plot(np.arange(1, len(torch_curve) + 1), 100 * torch_curve, ls="--", marker="x", ms=7,
                  color=line.get_color(), label=f"{encoding} torch", zorder=3)
    _integer_steps(axis)
    axis.set(xlabel="decision read after frame step", ylabel="test accuracy (%)",
             title=f"accuracy vs time step\n{study}")
    axis.legend(fontsize="small")
    save_figure(figure, path)


def _input_rasters(runs: list, config, path: Path, study: str) -> None:
    """The first test sample as each encoding sends it (the schedule its run used)."""
    from neurodeploy.core.data import load_split
    from neurodeploy.core.encoding import FrameSchedule, encode

    plt = pyplot()

    image = load_split(config.data, config.seed).test.images[:1]
    groups = _by_encoding(runs)
    figure, axes = plt.subplots(1, len(groups), figsize=(3.2 * len(groups), 3.6), squeeze=False)
    for axis, (encoding, group) in zip(axes[0], groups.items()):
        schedule = FrameSchedule.from_dict(group[0].schedule)
        spikes = encode(image, schedule, seed=group[0].seed)[0]
        rows, times = np.nonzero(spikes.reshape(-1, schedule.frame_steps).numpy())
        axis.scatter(times, rows, s=2, marker="|")
        axis.set(title=f"{encoding} ({int(spikes.sum())} spikes)", xlabel="frame step", ylabel="input line",
                 xlim=(-0.5, schedule.frame_steps - 0.5))
        _integer_steps(axis)
    figure.suptitle(f"the first test image as each encoding sends it ({study.split(',')[0]})")
    save_figure(figure, path)


def _spikes_per_layer(runs: list, path: Path, study: str) -> None:
    plt = pyplot()

    groups = _by_encoding(runs)
    names = ["input", *groups[next(iter(groups))][0].layer_spikes]
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    width = 0.8 / len(groups)
    for offset, (encoding, group) in enumerate(groups.items()):
        values = [np.mean([run.input_spikes for run in group])]
        values += [np.mean([run.layer_spikes[name] for run in group]) for name in names[1:]]
        axis.bar(np.arange(len(names)) + offset * width, values, width, label=encoding)
    axis.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    axis.set(ylabel="spikes per sample (mean over seeds)",
             title=f"spikes per layer over the frame (Loihi-faithful, drain tail excluded)\n{study}")
    axis.legend()
    save_figure(figure, path)


def _early_exit(runs: list, path: Path, study: str) -> None:
    """One point per threshold (mean over seeds), labelled with it where labels do not
    crowd; no line joins them (a threshold between two has no point of its own). The
    thresholds the seeds chose on their held-out images are ringed."""
    plt = pyplot()

    figure, axis = plt.subplots(figsize=(7.5, 4.6))
    for number, (encoding, group) in enumerate(_by_encoding(runs).items()):
        sweep = group[0].exit_sweep
        steps = np.mean([[row["mean_exit_step"] for row in run.exit_sweep] for run in group], axis=0)
        accuracy = 100 * np.mean([[row["accuracy"] for row in run.exit_sweep] for run in group], axis=0)
        points = axis.scatter(steps, accuracy, label=encoding, zorder=3)
        labelled = float("inf")  # labels from the right, none closer than LABEL_GAP steps to the last
        thresholds = np.array([row["threshold"] for row in sweep], dtype=float)
        for index in np.lexsort((-thresholds, -steps)):  # at equal steps the larger threshold ("never") first
            if labelled - steps[index] < LABEL_GAP:
                continue
            labelled = steps[index]
            threshold = thresholds[index]
            axis.annotate("never" if threshold >= 1e9 else f"{threshold:g}", (steps[index], accuracy[index]),
                          textcoords="offset points", xytext=(0, 7 if number % 2 == 0 else -13), ha="center",
                          fontsize=7, color=points.get_facecolor()[0])
        chosen = sorted({run.exit_threshold for run in group})
        for index, row in enumerate(sweep):
            if row["threshold"] in chosen:
                axis.scatter(steps[index], accuracy[index], s=220, facecolors="none",
                             edgecolors=points.get_facecolor()[0], linewidths=1.5, zorder=4)
        axis.plot([], [], ls="none", marker="o", mfc="none", mec=points.get_facecolor()[0], ms=11,
                  label=f"{encoding}: chosen on held-out images ({', '.join(f'{value:g}' for value in chosen)})")
    _integer_steps(axis)
    axis.margins(y=0.1)
    axis.set(xlabel="mean exit step (frame steps)", ylabel="test accuracy (%)",
             title=f"early exit: each point one threshold on the output margin (labels)\n{study}")
    axis.legend(fontsize="small", loc="lower right")
    save_figure(figure, path)
