"""The ``neurodeploy parity`` command.

Imports beyond click happen inside the command so ``neurodeploy --help`` stays fast. It
exits 0 when the emulator matches Lava exactly and 1 when it does not (torch may differ
from both: SLAYER computes in floats); unusable input raises :class:`NeurodeployError`,
which the CLI turns into exit code 2.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

import click

if TYPE_CHECKING:
    from neurodeploy.sim.parity import ParityReport


@click.command()
@click.argument("network", type=click.Path(dir_okay=False))
@click.option("--config", "-c", "config", type=click.Path(dir_okay=False),
              help="Config naming the data set (default: the manifest's).")
@click.option("--samples", "-n", type=int, default=20, show_default=True, help="Number of test samples.")
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True,
              help="Watchdog in seconds for the Lava run.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the report as JSON here.")
def parity(network: str, config: Optional[str], samples: int, timeout_s: float, json_path: Optional[str]) -> None:
    """Compare torch (SLAYER, from checkpoint.pt beside NETWORK), the emulator and Lava
    fixed_pt on the same samples: per layer, the first frame step where spikes differ,
    how many differ, voltage divergence, prediction agreement.

    Exit code 0: emulator and Lava agree exactly; 1: they do not; 2: unusable input."""
    from neurodeploy.atomic import write_json
    from neurodeploy.pipeline import simulation_inputs
    from neurodeploy.sim.parity import parity_report

    inputs = simulation_inputs(network, config, samples)
    report = parity_report(network, inputs.test, inputs.schedule, timeout_s)
    render(report)
    if json_path:
        write_json(json_path, report.to_dict())
    if not report.emulator_exact:
        sys.exit(1)


def render(report: "ParityReport") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"parity: {report.network} ({report.samples} samples, "
                        f"{report.frame_steps} steps per frame)", title_justify="left")
    for column in ("pair", "layer", "first diff: step, sample", "differing spikes",
                   "samples", "max |dv| (first step)"):
        table.add_column(column, justify="left" if column in ("pair", "layer") else "right")
    for comparison in report.comparisons:
        pair = f"{comparison.reference} / {comparison.other}"
        for layer in comparison.layers:
            first = "-" if layer.first_step is None else f"{layer.first_step}, #{layer.first_sample}"
            voltage = "n/a" if layer.voltage_differing is None else (
                "0" if not layer.voltage_differing else
                f"{layer.voltage_max_abs} ({layer.voltage_first_step})")
            table.add_row(pair, layer.layer, first, f"{layer.differing} / {layer.compared}",
                          str(layer.samples), voltage)
        table.add_row(pair, "predictions", "", f"agree {100 * comparison.prediction_agreement:.1f} %", "", "")
    console = Console(width=max(110, Console().width))
    console.print(table)
    accuracy = ", ".join(f"{name} {100 * value:.1f} %" for name, value in report.accuracy.items())
    console.print(f"accuracy: {accuracy}")
    if report.torch_unavailable:
        console.print(f"torch: unavailable ({report.torch_unavailable})")
    console.print("emulator and Lava agree exactly" if report.emulator_exact
                  else "EMULATOR AND LAVA DIFFER: please report this network")
