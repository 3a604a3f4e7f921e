"""The last minute or so of a live stream as small JPEGs, so a segment can be written out as a clip.

A segment's boundaries are only known after the fact (the window that carries a change ends
after it), so its frames must still be at hand when it is decided; keeping raw frames would
cost ~1 MB each at 640x480. JPEGs of at most ``max_side`` px, at most ``max_fps`` a second,
for ``seconds``: about 15 KB each, a fixed ceiling whatever the camera and however long the watch.
"""

import threading
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from video.decoding import resize_frame

JPEG_QUALITY = 85


class ClipMemory:
    def __init__(self, seconds: float = 60.0, max_side: int = 480, max_fps: float = 15.0) -> None:
        self.seconds = seconds
        self.max_side = max_side
        self.min_interval_s = 1.0 / max_fps
        self._frames: deque[tuple[float, bytes]] = deque()
        self._lock = threading.Lock()

    def add(self, t: float, frame_bgr: np.ndarray) -> None:
        with self._lock:
            if self._frames and t - self._frames[-1][0] < self.min_interval_s * 0.95:
                return
        height, width = frame_bgr.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            size = (max(2, round(height * scale) // 2 * 2), max(2, round(width * scale) // 2 * 2))
            frame_bgr = resize_frame(frame_bgr, size, keep_aspect=False)
        ok, jpeg = cv2.imencode(".jpg", frame_bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return
        with self._lock:
            self._frames.append((t, jpeg.tobytes()))
            while self._frames and t - self._frames[0][0] > self.seconds:
                self._frames.popleft()

    def bytes_held(self) -> int:
        with self._lock:
            return sum(len(jpeg) for _, jpeg in self._frames)

    def oldest_s(self) -> float | None:
        with self._lock:
            return self._frames[0][0] if self._frames else None

    def write(self, start_s: float, end_s: float, path: Path) -> Path | None:
        """The kept frames between ``start_s`` and ``end_s`` as an MP4 at their own rate; None if none are kept."""
        with self._lock:
            chosen = [(t, jpeg) for t, jpeg in self._frames if start_s <= t <= end_s]
        if len(chosen) < 2:
            return None
        fps = max(1.0, (len(chosen) - 1) / max(chosen[-1][0] - chosen[0][0], 1e-3))
        first = cv2.imdecode(np.frombuffer(chosen[0][1], np.uint8), cv2.IMREAD_COLOR)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.stem + ".partial" + path.suffix)
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), fps, (first.shape[1], first.shape[0]))
        try:
            for _, jpeg in chosen:
                writer.write(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))
        finally:
            writer.release()
        partial.replace(path)
        return path
