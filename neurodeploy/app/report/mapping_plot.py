"""The core map as a picture: cores per layer, and how full each per-core resource is.

Drawn for ``neurodeploy validate --plot`` and ``ValidationReport.plot()``: the left panel
shows where the cores go (each bar labelled with its count, whole cores on the axis), the
right one which resource binds each layer (the bar nearest 100%). Failing layers (those
that cannot be mapped, and those with an error finding when the caller names them) are
drawn hatched in red, their names marked. matplotlib is imported only here, and only when
a plot is asked for.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from neurodeploy.hardware.resources import CoreMap
from neurodeploy.core.figures import pyplot, save_figure

_LABELS = {"neurons_per_core": "neurons", "input_axons_per_core": "input axons",
           "synapse_memory_bits": "synapse memory", "output_axons_per_core": "output axons",
           "axon_in": "AxonIn", "neuron_groups": "NeuronGr", "neurons": "Neurons", "synapses": "Synapses",
           "axon_map": "AxonMap", "axon_mem": "AxonMem", "total": "Total"}
#: Resource colours: matplotlib's cycle without its red, which marks failing layers.
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
            "tab:olive", "tab:cyan")
_FAIL = "tab:red"


def core_map_figure(core_map: CoreMap, title: str, failing: Iterable[str] = ()) -> Any:
    """The figure of ``core_map`` titled ``title``; layers named in ``failing`` (besides the
    ones the map cannot place) are marked as failing."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    layers = core_map.layers
    failed = {layer.name for layer in layers if layer.blocked} | set(failing)
    names = [("\u2717 " if layer.name in failed else "") + layer.name for layer in layers]
    positions = np.arange(len(layers))
    figure, (cores_axis, use_axis) = plt.subplots(1, 2, figsize=(max(9.0, 1.1 * len(layers) + 5), 4.6))

    cores = [layer.cores for layer in layers]
    bars = cores_axis.bar(positions, cores, color=[_FAIL if layer.name in failed else "tab:blue" for layer in layers])
    cores_axis.bar_label(bars, fontsize=8)
    cores_axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    cores_axis.set_ylim(0, max(cores, default=1) * 1.12 or 1)
    cores_axis.set(title=f"cores per layer ({core_map.cores} in all, {core_map.chips} chip(s))", ylabel="cores")

    columns = core_map.columns
    width = 0.8 / max(len(columns), 1)
    for offset, limit in enumerate(columns):
        shares = [100 * layer.utilisation[limit] for layer in layers]
        use_axis.bar(positions + (offset - (len(columns) - 1) / 2) * width, shares, width,
                     label=_LABELS.get(limit, limit), color=_COLOURS[offset % len(_COLOURS)])
    use_axis.axhline(100, color="black", lw=0.8, ls="--")
    use_axis.set(title="most loaded core, share of each limit", ylabel="utilisation (%)")
    use_axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)

    for axis in (cores_axis, use_axis):
        axis.set_xticks(positions)
        axis.set_xticklabels(names, rotation=45, ha="right")
        for position, label, layer in zip(positions, axis.get_xticklabels(), layers):
            if layer.name in failed:
                label.set_color(_FAIL)
                axis.axvspan(position - 0.45, position + 0.45, color=_FAIL, alpha=0.08, hatch="//", lw=0)
    if failed:
        cores_axis.legend(handles=[Patch(facecolor=_FAIL, label="\u2717 failing layer")], fontsize=8,
                          loc="upper right")
    figure.suptitle(title)
    return figure


def plot_core_map(core_map: CoreMap, path: str | Path, title: str, failing: Iterable[str] = ()) -> None:
    """Write a PNG of ``core_map`` to ``path`` (atomically); see :func:`core_map_figure`."""
    save_figure(core_map_figure(core_map, title, failing), path)
