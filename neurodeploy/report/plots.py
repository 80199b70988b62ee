"""Plots written as PNG (matplotlib's Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path

from neurodeploy.atomic import atomic_path


def train_curve(history: list[dict[str, float]], path: str | Path) -> None:
    """Loss and train/test accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_axis.plot(epochs, [row["train_loss"] for row in history], marker="o")
    loss_axis.set(xlabel="epoch", ylabel="SpikeRate loss per sample", title="training loss")
    for key in ("train_accuracy", "test_accuracy"):
        accuracy_axis.plot(epochs, [100 * row[key] for row in history], marker="o",
                           label=key.replace("_", " "))
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (torch)")
    accuracy_axis.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)
