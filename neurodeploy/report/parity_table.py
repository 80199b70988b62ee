"""The table ``neurodeploy parity`` prints: per backend pair and layer, where spikes diverge."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neurodeploy.sim.parity import ParityReport


def render(report: "ParityReport") -> None:
    from rich.table import Table

    from neurodeploy.report.output import table_console

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
    console = table_console(min_width=110)
    console.print(table)
    if report.accuracy:  # only with labels
        console.print("accuracy: " + ", ".join(f"{name} {100 * value:.1f} %" for name, value in report.accuracy.items()))
    if report.torch_unavailable:
        console.print(f"torch: unavailable ({report.torch_unavailable})")
    console.print("emulator and Lava agree exactly" if report.emulator_exact
                  else "EMULATOR AND LAVA DIFFER: please report this network")
