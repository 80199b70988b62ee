"""What ``neurodeploy parity`` shows: the table it prints (per backend pair and layer, where
spikes diverge) and the figure ``ParityReport.plot`` draws."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from neurodeploy.app.parity import ParityReport


def render(report: "ParityReport") -> None:
    from rich.table import Table

    from neurodeploy.app.report.output import table_console

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


def parity_figure(report: "ParityReport", path: Optional[str | Path] = None) -> Any:
    """Left: predictions agreeing per pair, and accuracy per backend when labels were given;
    right: per layer, the share of spike entries each pair disagrees on (none: all bars 0)."""
    import numpy as np

    from neurodeploy.core.figures import pyplot, save_figure

    plt = pyplot()
    figure, (share_axis, layer_axis) = plt.subplots(1, 2, figsize=(11, 4))
    bars = {f"agree {pair}": share for pair, share in report.agreement.items()}
    bars.update({f"accuracy {name}": value for name, value in report.accuracy.items()})
    positions = np.arange(len(bars))
    drawn = share_axis.bar(positions, [100 * value for value in bars.values()],
                           color=["tab:blue" if name.startswith("agree") else "tab:green" for name in bars])
    share_axis.bar_label(drawn, fmt="%.1f", fontsize=8)
    share_axis.set_xticks(positions)
    share_axis.set_xticklabels(list(bars), rotation=30, ha="right")
    share_axis.set(ylim=(0, 112), ylabel="% of samples", title="predictions agreeing (blue), accuracy (green)")

    layers = list(dict.fromkeys(layer.layer for c in report.comparisons for layer in c.layers))
    positions = np.arange(len(layers))
    width = 0.8 / max(len(report.comparisons), 1)
    for offset, c in enumerate(report.comparisons):
        shares = {layer.layer: 100 * layer.differing / layer.compared if layer.compared else 0.0 for layer in c.layers}
        layer_axis.bar(positions + (offset - (len(report.comparisons) - 1) / 2) * width,
                       [shares.get(name, 0.0) for name in layers], width, label=f"{c.reference} / {c.other}")
    layer_axis.set_xticks(positions)
    layer_axis.set_xticklabels(layers, rotation=30, ha="right")
    layer_axis.set(ylabel="differing spike entries (%)", title="where spikes differ, per layer")
    layer_axis.legend(fontsize=8)
    if not any(layer.differing for c in report.comparisons for layer in c.layers):
        layer_axis.text(0.5, 0.5, "no spike differs in any layer", transform=layer_axis.transAxes, ha="center")
    figure.suptitle(f"parity: {Path(report.network).name}, {report.samples} samples x {report.frame_steps} steps")
    if path is not None:
        save_figure(figure, path, close=False)
    else:
        figure.tight_layout()
    return figure
