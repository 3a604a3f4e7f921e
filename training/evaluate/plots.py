"""The figures a run writes: training curves and a confusion matrix (matplotlib, no display)."""

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from core.atomic import atomic_write  # noqa: E402

_ANNOTATE_UP_TO = 30  # classes; beyond this the numbers would not be readable


def _save(figure: plt.Figure, path: Path) -> Path:
    try:
        return atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=110))
    finally:
        plt.close(figure)


def plot_curves(history: list[dict[str, Any]], path: str | Path) -> Path:
    """Loss and accuracy per epoch for train and validation."""
    epochs = [row["epoch"] for row in history]
    figure, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "val"):
        loss_ax.plot(epochs, [row[f"{split}_loss"] for row in history], marker="o", label=split)
        acc_ax.plot(epochs, [row[f"{split}_acc"] for row in history], marker="o", label=split)
    loss_ax.set(title="loss", xlabel="epoch")
    acc_ax.set(title="accuracy", xlabel="epoch", ylim=(0, 1.02))
    for axis in (loss_ax, acc_ax):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    return _save(figure, Path(path))


def plot_confusion(matrix: list[list[int]], classes: list[str], path: str | Path, title: str) -> Path:
    """Row-normalised colours with raw counts written in the cells."""
    counts = np.asarray(matrix)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = max(4.0, 0.45 * len(classes) + 2)
    figure, axis = plt.subplots(figsize=(side + 1, side))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of true class")
    axis.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set(xlabel="predicted", ylabel="true", title=title)
    if len(classes) <= _ANNOTATE_UP_TO:
        for (row, col), count in np.ndenumerate(counts):
            if count:
                colour = "white" if rates[row, col] > 0.5 else "black"
                axis.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    return _save(figure, Path(path))
