"""The summary tables printed at the end of `run` and `simulate`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from neurodeploy.app.report.output import table_console
from neurodeploy.backends import backend

stdout = table_console()


def print_run_summary(metrics: dict[str, Any], run_dir: Path) -> None:
    """Accuracies, agreement, spikes per sample per layer and wall times of one run."""
    table = Table(title=f"neurodeploy run: {metrics['name']}", show_header=True)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    count = metrics["simulated_samples"]
    table.add_row("torch test accuracy (all)", f"{100 * metrics['torch_test_accuracy']:.2f} %")
    table.add_row(f"torch accuracy ({count} simulated)", f"{100 * metrics['torch_accuracy_on_simulated']:.2f} %")
    table.add_row(f"Lava fixed_pt accuracy ({count})", f"{100 * metrics['lava_accuracy']:.2f} %")
    table.add_row("prediction agreement torch/Lava", f"{100 * metrics['prediction_agreement']:.2f} %")
    table.add_row(f"emulator accuracy (all {metrics['test_samples']})", f"{100 * metrics['emulator_accuracy']:.2f} %")
    table.add_row("prediction agreement emulator/Lava", f"{100 * metrics['emulator_lava_agreement']:.2f} %")
    torch_spikes, lava_spikes = metrics["spikes_per_sample"]["torch"], metrics["spikes_per_sample"]["lava"]
    for name in lava_spikes:
        table.add_row(f"spikes/sample {name} (torch | Lava incl. drain)",
                      f"{torch_spikes.get(name, float('nan')):.1f} | {lava_spikes[name]:.1f}")
    walls, epochs = metrics["wall_s"], metrics["trained_epochs"]
    table.add_row(f"wall time train ({epochs} epoch{'s' * (epochs != 1)} in this run) | export | Lava | emulator",
                  f"{walls['train']:.1f} s | {walls['export']:.1f} s | {walls['lava']:.1f} s | {walls['emulator']:.2f} s")
    table.add_row("emulator's numba compile or cache load (once per process)", f"{walls['emulator_compile']:.2f} s")
    table.add_row("Lava steps per second", f"{metrics['lava_steps_per_s']:.0f}")
    for name, hardware in metrics.get("hardware", {}).items():
        energy = hardware.get("dynamic_energy_per_sample_j")
        energy_text = f", dynamic {_range(energy, 1e6, 'uJ')}/sample" if energy else ""
        table.add_row(f"{name} verdict", f"{hardware['verdict']} ({hardware['cores']} cores{energy_text})")
    stdout.print(table)
    stdout.print(f"run folder: {run_dir}  (model.net, manifest.json, metrics.json, train_curve.png)")


def _range(bounds: list[float], scale: float, unit: str) -> str:
    low, high = (value * scale for value in bounds)
    return f"{low:.3g}-{high:.3g} {unit}"


def print_simulation(metrics: dict[str, Any]) -> None:
    """One simulation's table: accuracy when labels were known, else output counts and rates."""
    table = Table(title=f"{backend(metrics['backend']).title}: {metrics['network']} ({metrics['input']})")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    if "accuracy" in metrics:
        table.add_row(f"accuracy ({metrics['samples']} samples)", f"{100 * metrics['accuracy']:.2f} %")
    else:
        counts = metrics.get("output_counts_mean", [])
        shown = ", ".join(f"{value:.2f}" for value in counts[:10]) + (", ..." if len(counts) > 10 else "")
        table.add_row(f"output spikes/sample, mean per output ({metrics['samples']} samples, no labels)",
                      f"[{shown}]")
    rates = metrics.get("rates_per_layer", {})
    for name, spikes in metrics.get("spikes_per_sample", {}).items():
        rate = f" ({rates[name]:.4f}/neuron/step)" if name in rates else ""
        table.add_row(f"spikes/sample {name}", f"{spikes:.1f}{rate}")
    if "exit_threshold" in metrics:
        table.add_row(f"mean exit step (margin >= {metrics['exit_threshold']:g})",
                      f"{metrics['mean_exit_step']:.2f} of {metrics['frame_steps']}")
    table.add_row("steps simulated", f"{metrics['steps']}")
    table.add_row("wall time | steps per second", f"{metrics['wall_s']:.2f} s | {metrics['steps_per_s']:.0f}")
    if "compile_s" in metrics:
        table.add_row("numba compile or cache load, apart from the run (once per process)",
                      f"{metrics['compile_s']:.2f} s")
    stdout.print(table)
