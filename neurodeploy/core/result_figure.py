"""The figure of one simulation result (what :meth:`SimulationResult.plot` returns).

It stays beside the result, in the core, so a result can draw itself without the app
layer; matplotlib is imported only when a figure is drawn (:mod:`neurodeploy.core.figures`).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from neurodeploy.core.figures import pyplot, save_figure

if TYPE_CHECKING:
    from neurodeploy.core.results import SimulationResult


def result_figure(result: "SimulationResult", sample: int = 0, path: Optional[str | Path] = None) -> Any:
    """One simulation at a glance: sample ``sample``'s output raster over its decode window
    (when the run kept the output spikes) and the mean output count per output neuron."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

    if not 0 <= sample < max(result.samples, 1):
        raise ValueError(f"sample {sample}: the result holds {result.samples} samples")
    raster = result.output_spikes is not None and result.samples
    figure, axes = plt.subplots(1, 2 if raster else 1, figsize=(10 if raster else 5, 3.5), squeeze=False)
    if raster:
        steps, neurons = np.nonzero(result.output_spikes[sample])
        axes[0, 0].scatter(steps + 1, neurons, marker="|", s=80)
        axes[0, 0].set(xlabel="step of the decode window", ylabel="output neuron",
                       title=f"sample {sample}: output spikes (predicted {result.predictions[sample]})",
                       xlim=(0.5, result.output_spikes.shape[1] + 0.5))
        axes[0, 0].yaxis.set_major_locator(MaxNLocator(integer=True))
    counts = axes[0, -1]
    means = result.output_counts.mean(axis=0) if result.samples else np.zeros(result.output_counts.shape[1:])
    counts.bar(np.arange(len(means)), means)
    counts.set(xlabel="output neuron", ylabel="spikes per sample (mean)",
               title=f"{result.backend}: {result.samples} samples")
    counts.xaxis.set_major_locator(MaxNLocator(integer=True))
    if path is not None:
        save_figure(figure, path, close=False)
    else:
        figure.tight_layout()
    return figure
