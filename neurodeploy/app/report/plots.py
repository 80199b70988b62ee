"""Plots written as PNG (matplotlib's Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from neurodeploy.core.figures import pyplot, save_figure

if TYPE_CHECKING:
    from neurodeploy.core.config import ExperimentConfig


def describe_network(config: "ExperimentConfig") -> str:
    """The network's layers as a title says them: ``conv 16, dense 128``."""
    model = config.model
    parts = [f"conv {'-'.join(str(conv.channels) for conv in model.conv)}"] if model.conv else []
    return ", ".join(parts + [f"dense {'-'.join(str(width) for width in model.hidden)}"])


def train_curve(history: list[dict[str, float]], path: str | Path, subtitle: str = "") -> None:
    """Loss and train/test accuracy per epoch; ``subtitle`` names the run (data, network, seed)."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_axis.plot(epochs, [row["train_loss"] for row in history], marker="o")
    loss_axis.set(xlabel="epoch", ylabel="SpikeRate loss per sample", title="training loss")
    for key in ("train_accuracy", "test_accuracy"):
        accuracy_axis.plot(epochs, [100 * row[key] for row in history], marker="o",
                           label=key.replace("_", " "))
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (torch)")
    accuracy_axis.legend()
    for axis in (loss_axis, accuracy_axis):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    if subtitle:
        figure.suptitle(subtitle)
    save_figure(figure, path)
