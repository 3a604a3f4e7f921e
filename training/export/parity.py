"""How closely an export reproduces torch: the figures the export records and the benchmark prints."""

import numpy as np

# Targets of issue 22: fp32 must be the same model; int8 may flip a rare close call.
MIN_COSINE = {"fp32": 0.999, "int8": 0.98}
MIN_AGREEMENT = {"fp32": 0.99, "int8": 0.97}


def mean_cosine(reference: np.ndarray, other: np.ndarray) -> float:
    """Mean cosine similarity of matching rows (features or probability vectors)."""
    a, b = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return float(np.mean((a * b).sum(axis=1) / norms))


def top1_agreement(reference: np.ndarray, other: np.ndarray) -> float:
    """Share of rows whose most probable class is the same."""
    return float(np.mean(np.argmax(reference, axis=1) == np.argmax(other, axis=1)))


def passes(precision: str, agreement: float, cosine: float | None = None) -> bool:
    return agreement >= MIN_AGREEMENT[precision] and (cosine is None or cosine >= MIN_COSINE[precision])
