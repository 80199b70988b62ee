"""The core map as a picture: cores per layer, and how full each per-core resource is.

Drawn for ``neurodeploy validate --plot``: the left panel shows where the cores go, the
right one which resource binds each layer (the bar nearest 100%). matplotlib is imported
only here, and only when a plot is asked for.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy.atomic import atomic_path
from neurodeploy.hardware.resources import CoreMap

_LABELS = {"neurons_per_core": "neurons", "input_axons_per_core": "input axons",
           "synapse_memory_bits": "synapse memory", "output_axons_per_core": "output axons",
           "axon_in": "AxonIn", "neuron_groups": "NeuronGr", "neurons": "Neurons", "synapses": "Synapses",
           "axon_map": "AxonMap", "axon_mem": "AxonMem", "total": "Total"}


def plot_core_map(core_map: CoreMap, path: str | Path, title: str) -> None:
    """Write a PNG of ``core_map`` to ``path`` (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [layer.name for layer in core_map.layers]
    positions = np.arange(len(names))
    figure, (cores_axis, use_axis) = plt.subplots(1, 2, figsize=(max(8.0, 1.1 * len(names) + 4), 4.2))
    colours = ["tab:red" if layer.blocked else "tab:blue" for layer in core_map.layers]
    cores_axis.bar(positions, [layer.cores for layer in core_map.layers], color=colours)
    cores_axis.set(title=f"cores per layer ({core_map.cores} in all, {core_map.chips} chip(s))",
                   ylabel="cores", xticks=positions)
    cores_axis.set_xticklabels(names, rotation=45, ha="right")
    columns = core_map.columns
    width = 0.8 / len(columns)
    for offset, limit in enumerate(columns):
        shares = [100 * layer.utilisation[limit] for layer in core_map.layers]
        use_axis.bar(positions + (offset - (len(columns) - 1) / 2) * width, shares, width, label=_LABELS[limit])
    use_axis.axhline(100, color="black", lw=0.8, ls="--")
    use_axis.set(title="most loaded core, share of each limit", ylabel="utilisation (%)", xticks=positions)
    use_axis.set_xticklabels(names, rotation=45, ha="right")
    use_axis.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)
