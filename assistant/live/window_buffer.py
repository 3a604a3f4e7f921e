"""The last few seconds of a live stream, already shrunk to the models' input size.

Frames are shrunk as they arrive (a 1280x720 frame becomes a 112 px one), and only the span
one window needs is kept, so the memory a watch holds does not depend on the camera's
resolution or on how long it runs. A window is read as ``num_frames`` frames spread evenly in
time over its span, like a decoded clip's window (``video.decoding.decode_windows``).
"""

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from video.decoding import Clip

# Frames arrive at discrete times: a 2 s window of 12 fps video spans 23/12 s between its first and last frame.
MIN_SPAN = 0.9


@dataclass(frozen=True)
class BufferedFrame:
    seq: int  # the frame's number since the watch began
    t: float  # seconds since the watch began, when the frame arrived
    frame: np.ndarray  # RGB at the models' size


class WindowBuffer:
    """Thread-safe: the reader adds, the analysis worker reads the latest window."""

    def __init__(self, window_s: float, num_frames: int) -> None:
        self.window_s = window_s
        self.num_frames = num_frames
        self._frames: deque[BufferedFrame] = deque()
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)

    def add(self, item: BufferedFrame) -> None:
        with self.arrived:
            self._frames.append(item)
            # Keep a little more than a window: the worker's window ends at the newest frame.
            while self._frames and item.t - self._frames[0].t > self.window_s * 1.25:
                self._frames.popleft()
            self.arrived.notify_all()

    def clear(self) -> None:
        """After an outage, a window must not join frames from before and after it."""
        with self._lock:
            self._frames.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def latest_t(self) -> float | None:
        with self._lock:
            return self._frames[-1].t if self._frames else None

    def span_s(self) -> float:
        with self._lock:
            return self._frames[-1].t - self._frames[0].t if len(self._frames) > 1 else 0.0

    def wait_until(self, end_s: float, finished, poll_s: float = 0.2) -> bool:
        """Block until the newest frame is at ``end_s`` or later and the buffer spans a window;
        False as soon as ``finished()`` says no more frames will come."""
        with self.arrived:
            while True:
                frames = self._frames
                if frames and frames[-1].t >= end_s and frames[-1].t - frames[0].t >= self.window_s * MIN_SPAN:
                    return True
                if finished():
                    return False
                self.arrived.wait(poll_s)

    def latest_window(self) -> Clip | None:
        """The window ending at the newest frame, or None while less than ``MIN_SPAN`` of a window has arrived."""
        with self._lock:
            frames = list(self._frames)
        if len(frames) < 2:
            return None
        end = frames[-1].t
        if end - frames[0].t < self.window_s * MIN_SPAN:
            return None
        inside = [f for f in frames if f.t >= end - self.window_s]
        times = np.array([f.t for f in inside])
        targets = np.linspace(inside[0].t, end, self.num_frames)
        rows = np.clip(np.searchsorted(times, targets), 0, len(inside) - 1)
        closer_before = (rows > 0) & (np.abs(times[rows - 1] - targets) <= np.abs(times[rows] - targets))
        rows = np.where(closer_before, rows - 1, rows)
        chosen = [inside[r] for r in rows]
        return Clip(
            frames=np.stack([f.frame for f in chosen]),
            frame_indices=np.array([f.seq for f in chosen], dtype=np.int64),
            times_s=np.array([f.t for f in chosen]),
            start_s=inside[0].t,
            end_s=end,
        )
