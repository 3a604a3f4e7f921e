"""Which frames of a stream to sample, and when each is shown (frame index / fps or its timestamp).

``sample_indices`` spreads a clip's frames over a range, ``segment_ranges`` and ``window_ranges``
cut a stream into ranges, and ``FrameClock`` says when each frame is shown.

Phones record at a variable frame rate (fewer frames in low light, more when the scene moves),
and clips cut from streams keep irregular timestamps: there, frame index / fps puts a moment
seconds away from where it is. The decoder reads every frame's presentation time anyway; when
those times depart from the regular grid by more than half a frame, they are the clock, and
time windows are cut by time rather than by frame count. Regular streams keep the exact
index / fps arithmetic.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Times further than this share of a frame period from index / fps make a stream variable-rate.
_IRREGULAR_SHARE = 0.5


def sample_indices(start: int, stop: int, num_frames: int) -> np.ndarray:
    """Centres of ``num_frames`` equal bins over [start, stop); repeats the last frame when short."""
    length = stop - start
    if length <= 0:
        raise ValueError("empty frame range")
    if length < num_frames:
        return np.minimum(np.arange(num_frames), length - 1) + start
    edges = np.linspace(start, stop, num_frames + 1)
    return np.floor((edges[:-1] + edges[1:]) / 2).astype(np.int64)


def segment_ranges(total: int, num_segments: int) -> list[tuple[int, int]]:
    """Split [0, total) into ``num_segments`` contiguous ranges (overlapping when total is small)."""
    if total >= num_segments:
        edges = np.linspace(0, total, num_segments + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return [(0, total)] * num_segments


def window_ranges(total: int, fps: float, window_s: float, stride_s: float) -> list[tuple[int, int]]:
    """Overlapping time windows in frame units; the last window is aligned to the end of the video."""
    window = max(1, round(window_s * fps))
    stride = max(1, round(stride_s * fps))
    if total <= window:
        return [(0, total)]
    starts = list(range(0, total - window + 1, stride))
    if starts[-1] + window < total:
        starts.append(total - window)
    return [(s, s + window) for s in starts]


@dataclass(frozen=True)
class FrameClock:
    total: int
    fps: float
    stamps: np.ndarray | None = None  # seconds from the first frame, one per frame; None: index / fps

    @classmethod
    def from_stamps(cls, total: int, fps: float, stamps: Sequence[float]) -> "FrameClock":
        """The stream's own timestamps when they are usable and irregular, else the regular clock."""
        times = np.asarray(stamps, dtype=np.float64)
        if len(times) != total or total < 2 or not np.all(np.isfinite(times)):
            return cls(total, fps)
        times = times - times[0]
        if np.any(np.diff(times) < 0) or times[-1] <= 0:
            return cls(total, fps)  # missing or broken timestamps say nothing
        regular = np.arange(total) / fps
        if np.max(np.abs(times - regular)) <= _IRREGULAR_SHARE / fps:
            return cls(total, fps)
        return cls(total, fps, times)

    @property
    def variable(self) -> bool:
        return self.stamps is not None

    @property
    def duration_s(self) -> float:
        if self.stamps is None:
            return self.total / self.fps
        return float(self.stamps[-1] + (self.stamps[-1] - self.stamps[-2]))  # the last frame lasts like the one before

    def time_s(self, index: int) -> float:
        """When frame ``index`` is shown; ``total`` (one past the last frame) is the end of the video."""
        if self.stamps is None:
            return index / self.fps
        return float(self.stamps[index]) if index < self.total else self.duration_s

    def times_s(self, indices: np.ndarray) -> np.ndarray:
        if self.stamps is None:
            return np.asarray(indices, dtype=np.float64) / self.fps
        return self.stamps[np.asarray(indices, dtype=np.int64)]

    def sample(self, start: int, stop: int, num_frames: int) -> np.ndarray:
        """``num_frames`` frames of [start, stop), evenly spread in time: the frame shown at the centre
        of each of ``num_frames`` equal time bins (``sample_indices``' rule, in seconds)."""
        if self.stamps is None or stop - start < num_frames:
            return sample_indices(start, stop, num_frames)
        edges = np.linspace(self.time_s(start), self.time_s(stop), num_frames + 1)
        shown = np.searchsorted(self.stamps, (edges[:-1] + edges[1:]) / 2, side="right") - 1
        return np.clip(shown, start, stop - 1).astype(np.int64)

    def windows_by_time(self, window_s: float, stride_s: float) -> list[tuple[int, int]]:
        """Overlapping windows of ``window_s`` seconds as frame ranges; the last one ends with the video."""
        assert self.stamps is not None
        duration = self.duration_s
        if duration <= window_s:
            return [(0, self.total)]
        starts = list(np.arange(0.0, duration - window_s + 1e-9, stride_s))
        if starts[-1] + window_s < duration:
            starts.append(duration - window_s)
        ranges = []
        for start in starts:
            first = int(np.searchsorted(self.stamps, start, side="left"))
            stop = int(np.searchsorted(self.stamps, start + window_s, side="left"))
            first = min(first, self.total - 1)
            ranges.append((first, max(stop, first + 1)))
        return ranges
