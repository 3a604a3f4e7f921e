"""Where live frames come from: a webcam index, a video file played at its own speed, or a network stream.

A camera or a stream can drop at any time (a Wi-Fi hiccup, a restarted IP camera): reading
then reconnects with exponential backoff and reports the outage, instead of ending the watch.
A file is played in real time (a frame is handed out when its presentation time comes) so a
recorded clip behaves like the camera that recorded it; its end ends the watch.
"""

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import VideoError

log = logging.getLogger(__name__)
NETWORK_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
# OpenCV's FFmpeg backend waits 30 s by default before it calls a dead stream dead.
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000
FALLBACK_FPS = 25.0


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnection attempts: first, doubling up to ``max_s``; ``give_up_s`` None: forever."""

    first_s: float = 0.5
    max_s: float = 8.0
    give_up_s: float | None = None

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.first_s * 2**attempt)


@dataclass(frozen=True)
class SourceSpec:
    """What ``watch SOURCE`` names: ``kind`` is webcam, file or network."""

    text: str
    kind: str

    @property
    def is_live(self) -> bool:
        return self.kind != "file"

    @classmethod
    def parse(cls, text: str) -> "SourceSpec":
        text = str(text).strip()
        if text.isdigit():
            return cls(text, "webcam")
        if text.lower().startswith(NETWORK_SCHEMES) or text.lower().endswith(".m3u8"):
            return cls(text, "network")
        if Path(text).is_file():
            return cls(text, "file")
        raise VideoError(
            f"{text}: not a webcam index (0, 1, ...), an existing video file, or a stream URL "
            "(rtsp://, http(s)://, .m3u8). Check the source."
        )


DEFAULT_BACKOFF = Backoff()
Report = Callable[[str, dict], None]  # (event kind, details): "lost", "reconnected", "gave_up"


class FrameSource:
    """Blocking reads of BGR frames; ``read`` returns None when the source has ended or ``stop`` was set."""

    def __init__(
        self,
        spec: SourceSpec,
        *,
        stop: threading.Event | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        report: Report | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.stop = stop or threading.Event()
        self.backoff = backoff
        self.report = report or (lambda kind, details: None)
        self.clock = clock
        self.capture: cv2.VideoCapture | None = None
        self.fps = FALLBACK_FPS
        self.width = self.height = 0
        self._file_start: float | None = None
        self._open_or_raise()

    def _open(self) -> cv2.VideoCapture | None:
        if self.spec.kind == "webcam":
            capture = cv2.VideoCapture(int(self.spec.text))
        else:
            timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS]
            timeouts += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
            capture = cv2.VideoCapture(self.spec.text, cv2.CAP_FFMPEG, timeouts)
        if not capture.isOpened():
            capture.release()
            return None
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else FALLBACK_FPS
        self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return capture

    def _open_or_raise(self) -> None:
        self.capture = self._open()
        if self.capture is None:
            raise VideoError(
                f"{self.spec.text}: could not open the {self.spec.kind} source "
                "(no such camera, an unreachable URL, or a format FFmpeg cannot read)."
            )

    def read(self) -> np.ndarray | None:
        while not self.stop.is_set():
            if self.capture is not None:
                ok, frame = self.capture.read()
                if ok and frame is not None:
                    self._pace()
                    return frame
            if not self.spec.is_live:
                return None  # the end of the file
            if not self._reconnect():
                return None
        return None

    def _pace(self) -> None:
        """A file's frame is handed out at its presentation time, as a camera would deliver it."""
        if self.spec.is_live or self.capture is None:
            return
        shown_s = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        now = self.clock()
        if self._file_start is None:
            self._file_start = now - shown_s
        wait = self._file_start + shown_s - now
        if wait > 0:
            self.stop.wait(wait)

    def _reconnect(self) -> bool:
        """Reopen with backoff until frames come again; False when stopped or the give-up time passed."""
        lost_at = self.clock()
        if self.capture is not None:
            self.capture.release()
            self.capture = None
        self.report("lost", {"source": self.spec.text})
        log.warning("%s: stream lost; reconnecting", self.spec.text)
        attempt = 0
        while not self.stop.is_set():
            if self.backoff.give_up_s is not None and self.clock() - lost_at > self.backoff.give_up_s:
                self.report("gave_up", {"offline_s": self.clock() - lost_at})
                return False
            if self.stop.wait(self.backoff.delay(attempt)):
                return False
            attempt += 1
            capture = self._open()
            if capture is None:
                continue
            self.capture = capture
            self.report("reconnected", {"offline_s": self.clock() - lost_at, "attempts": attempt})
            log.warning("%s: reconnected after %.1f s", self.spec.text, self.clock() - lost_at)
            return True
        return False

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None
