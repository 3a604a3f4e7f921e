"""Temporal importance: which moments of a video carried the evidence for one class.

Two things decide it. Across windows, a window counts as much as the classifier believes the
class there (its probability), so a moment where the activity is absent weighs little
however the heat is spread. Within a window, each frame counts by its share of the window's
Grad-CAM heat. Overlapping windows are sampled at different frames; each is interpolated onto
the union of their sample times and the windows covering a time are averaged.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImportanceCurve:
    """Importance (scaled so the peak is 1) at increasing times in seconds."""

    times_s: np.ndarray
    importance: np.ndarray

    @property
    def peak_s(self) -> float:
        return float(self.times_s[int(np.argmax(self.importance))])


def frame_scores(frame_share: np.ndarray, window_weight: np.ndarray) -> np.ndarray:
    """(windows, T) importance of each sampled frame; a frame with a uniform share in a window of weight w scores w."""
    share = np.asarray(frame_share, dtype=np.float64)
    return share * share.shape[1] * np.asarray(window_weight, dtype=np.float64)[:, None]


def importance_curve(times_s: np.ndarray, frame_share: np.ndarray, window_weight: np.ndarray) -> ImportanceCurve:
    """``times_s`` and ``frame_share`` are (windows, T): each sampled frame's time and heat share;
    ``window_weight`` (windows,) is the class probability of each window."""
    times_s = np.asarray(times_s, dtype=np.float64)
    scores = frame_scores(frame_share, window_weight)
    grid = np.unique(times_s)
    total = np.zeros_like(grid)
    covering = np.zeros_like(grid)
    for window_times, window_scores in zip(times_s, scores, strict=True):
        order = np.argsort(window_times, kind="stable")
        inside = (grid >= window_times[order[0]]) & (grid <= window_times[order[-1]])
        total[inside] += np.interp(grid[inside], window_times[order], window_scores[order])
        covering[inside] += 1
    values = total / np.maximum(covering, 1)
    peak = values.max(initial=0.0)
    return ImportanceCurve(times_s=grid, importance=values / peak if peak > 0 else values)
