"""Classification metrics from predicted probabilities: the numbers every evaluation reports."""

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


def worst_confused_pairs(matrix: np.ndarray, classes: list[str], limit: int = 5) -> list[dict[str, Any]]:
    """Off-diagonal cells with the most clips, as (true, predicted, count, share of the true class)."""
    pairs = []
    totals = matrix.sum(axis=1)
    for true, predicted in zip(*np.nonzero(matrix), strict=True):
        if true != predicted:
            count = int(matrix[true, predicted])
            pairs.append(
                {
                    "true": classes[true],
                    "predicted": classes[predicted],
                    "count": count,
                    "rate": count / int(totals[true]),
                }
            )
    pairs.sort(key=lambda p: (-p["count"], -p["rate"], p["true"], p["predicted"]))
    return pairs[:limit]


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of samples whose true class is among the ``k`` most probable (stable order on ties)."""
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float((ranked == labels[:, None]).any(axis=1).mean())


def classification_metrics(
    probs: np.ndarray, labels: np.ndarray, classes: list[str], top_k: tuple[int, ...] = (3, 5)
) -> dict[str, Any]:
    """Accuracy, top-k, macro and per-class P/R/F1, confusion matrix and worst pairs."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    indices = list(range(len(classes)))
    predictions = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=indices, zero_division=0
    )
    matrix = confusion_matrix(labels, predictions, labels=indices)
    present = support > 0  # macro averages over the classes that occur in this split
    top = {f"top{k}": top_k_accuracy(probs, labels, k) for k in top_k if k < len(classes)}
    return {
        "num_samples": int(len(labels)),
        "accuracy": float((predictions == labels).mean()),
        "top_k": top,
        "macro_precision": float(precision[present].mean()),
        "macro_recall": float(recall[present].mean()),
        "macro_f1": float(f1[present].mean()),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion_matrix": matrix.tolist(),
        "worst_confused": worst_confused_pairs(matrix, classes),
    }
