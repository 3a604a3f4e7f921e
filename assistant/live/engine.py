"""The streaming engine: a reader thread takes frames in, an analysis worker keeps the timeline current.

The worker always analyses the newest window. When analysis is slower than the stream, it does
not queue windows (a queue would make the timeline fall further behind with every window);
it takes the latest one, and the frames no analysed window covered are counted as skipped.
So what is shown is never more than one analysis behind the camera, and memory is bounded:
one window of small frames (``WindowBuffer``), an optional minute of JPEGs (``ClipMemory``),
and the most recent segments (``LiveTimeline``).
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from assistant.live.clip_memory import ClipMemory
from assistant.live.live_timeline import AnalysedWindow, Gap, LiveSegment, LiveTimeline
from assistant.live.source import FrameSource
from assistant.live.window_buffer import BufferedFrame, WindowBuffer
from video.decoding import Clip, shrink_frame

log = logging.getLogger(__name__)
Analyser = Callable[[Clip], AnalysedWindow]  # a window's verdict (its start_s/end_s are filled in here)
LATENCY_SAMPLES = 1000


@dataclass(frozen=True)
class LiveEvent:
    """What listeners hear: ``segment`` (an activity started; ``previous`` ended), ``lost``,
    ``reconnected`` (with the ``gap``), ``ended``, ``error``."""

    kind: str
    t: float  # seconds since the watch began
    segment: LiveSegment | None = None
    previous: LiveSegment | None = None
    gap: Gap | None = None
    details: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        data: dict = {"event": self.kind, "t": round(self.t, 3)}
        if self.segment is not None:
            data["segment"] = self.segment.as_json()
        if self.previous is not None:
            data["previous"] = self.previous.as_json()
        if self.gap is not None:
            data["gap"] = self.gap.as_json()
        return data | self.details


@dataclass
class LiveStats:
    frames: int = 0
    skipped: int = 0  # frames that arrived but no analysed window covered
    windows: int = 0
    reconnects: int = 0
    width: int = 0
    height: int = 0
    first_frame_s: float | None = None
    last_frame_s: float | None = None
    analysis_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    # From the end of a window (its newest frame's arrival) to its verdict being on the timeline.
    latency_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    change_latency_s: deque = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))

    @property
    def fps(self) -> float:
        if self.first_frame_s is None or self.last_frame_s is None or self.frames < 2:
            return 0.0
        return (self.frames - 1) / max(self.last_frame_s - self.first_frame_s, 1e-6)

    def summary(self) -> dict:
        def p95(values) -> float | None:
            return round(float(np.percentile(list(values), 95)), 3) if values else None

        return {
            "frames": self.frames,
            "skipped_frames": self.skipped,
            "windows": self.windows,
            "reconnects": self.reconnects,
            "fps": round(self.fps, 2),
            "analysis_s_mean": round(float(np.mean(self.analysis_s)), 3) if self.analysis_s else None,
            "latency_s_p95": p95(self.latency_s),
            "change_latency_s_p95": p95(self.change_latency_s),
        }


class LiveEngine:
    """``start()`` with a ``FrameSource``, or ``push()`` frames yourself (the browser's webcam)."""

    def __init__(
        self,
        analyser: Analyser,
        frame_spec: tuple[int, int, bool],
        *,
        window_s: float,
        stride_s: float,
        source: FrameSource | None = None,
        clip_memory: ClipMemory | None = None,
        max_segments: int = 2000,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        num_frames, size, keep_aspect = frame_spec
        self.analyser = analyser
        self.shrink = partial(shrink_frame, size=size, keep_aspect=keep_aspect)
        self.window_s, self.stride_s = window_s, stride_s
        self.source = source
        self.clip_memory = clip_memory
        self.clock = clock
        self._t0 = clock()
        self.timeline = LiveTimeline(wall(), max_segments)
        self.buffer = WindowBuffer(window_s, num_frames)
        self.stats = LiveStats()
        self.listeners: list[Callable[[LiveEvent], None]] = []
        self.stop_requested = threading.Event()
        self.reader_done = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._lost_at: float | None = None
        self._covered_seq = -1
        self._threads: list[threading.Thread] = []
        self._push_lock = threading.Lock()
        if source is not None:
            source.stop = self.stop_requested
            source.report = self._source_report

    # -- time ---------------------------------------------------------------------------------------
    def now_s(self) -> float:
        return self.clock() - self._t0

    # -- input --------------------------------------------------------------------------------------
    def push(self, frame_bgr: np.ndarray) -> None:
        """One frame, as it arrives (any size; BGR like OpenCV). Safe to call from several threads
        (the app's request workers): frames are numbered and timed in one order."""
        with self._push_lock:
            self._push(frame_bgr)

    def _push(self, frame_bgr: np.ndarray) -> None:
        t = self.now_s()
        stats = self.stats
        if self._lost_at is not None:
            self._back_after_outage(t)
        self.buffer.add(BufferedFrame(stats.frames, t, self.shrink(frame_bgr)))
        if self.clip_memory is not None:
            self.clip_memory.add(t, frame_bgr)
        if stats.first_frame_s is None:
            stats.first_frame_s = t
            stats.height, stats.width = frame_bgr.shape[:2]
        stats.last_frame_s = t
        stats.frames += 1

    def _source_report(self, kind: str, details: dict) -> None:
        if kind == "lost":
            self._lost_at = self.stats.last_frame_s if self.stats.last_frame_s is not None else self.now_s()
            self._emit(LiveEvent("lost", self.now_s(), details=details))
        elif kind == "gave_up":
            self._emit(LiveEvent("error", self.now_s(), details={"error": "the stream did not come back"} | details))

    def _back_after_outage(self, t: float) -> None:
        assert self._lost_at is not None
        self.buffer.clear()
        gap = self.timeline.gap(self._lost_at, t)
        self._lost_at = None
        self.stats.reconnects += 1
        self._emit(LiveEvent("reconnected", t, gap=gap, details={"offline_s": round(gap.end_s - gap.start_s, 3)}))

    def _read(self) -> None:
        assert self.source is not None
        try:
            while not self.stop_requested.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self.push(frame)
        except Exception as error:  # a decoder failure: reported as an event, the watch ends
            log.exception("reading %s failed", self.source.spec.text)
            self.error = error
            self._emit(LiveEvent("error", self.now_s(), details={"error": str(error)}))
        finally:
            self.source.close()
            self.reader_done.set()
            with self.buffer.arrived:
                self.buffer.arrived.notify_all()

    # -- analysis -----------------------------------------------------------------------------------
    def _next_window(self, due_s: float) -> Clip | None:
        """Wait for the window ending at ``due_s`` or later; None when stopped or the input has ended."""

        def finished() -> bool:
            return self.stop_requested.is_set() or (self.source is not None and self.reader_done.is_set())

        while self.buffer.wait_until(due_s, finished):
            window = self.buffer.latest_window()
            if window is not None:
                return window
            due_s = (self.buffer.latest_t() or due_s) + 1e-3  # cleared meanwhile (an outage): wait for more
        return None

    def analyse_once(self, window: Clip) -> LiveSegment | None:
        """Analyse one window, put it on the timeline, tell listeners if an activity started."""
        started = self.clock()
        first_seq = int(window.frame_indices.min())
        if first_seq > self._covered_seq + 1:
            self.stats.skipped += first_seq - self._covered_seq - 1
        self._covered_seq = max(self._covered_seq, int(window.frame_indices.max()))
        analysed = self.analyser(window)
        analysed = AnalysedWindow(window.start_s, window.end_s, analysed.verdict, analysed.fused, analysed.neighbours)
        previous = self.timeline.current()
        segment = self.timeline.add(analysed)
        done_s = self.now_s()
        self.stats.windows += 1
        self.stats.analysis_s.append(self.clock() - started)
        self.stats.latency_s.append(done_s - window.end_s)
        if segment is not None:
            if previous is not None:
                self.stats.change_latency_s.append(done_s - window.end_s)
                previous = next((s for s in reversed(self.timeline.snapshot()[0][:-1])), previous)
            self._emit(LiveEvent("segment", done_s, segment=segment, previous=previous))
        return segment

    def _analyse_loop(self) -> None:
        due = self.window_s * 0.9
        try:
            while not self.stop_requested.is_set():
                window = self._next_window(due)
                if window is None:
                    break
                self.analyse_once(window)
                # The next window ends one stride after this one, or now if analysis took longer.
                due = window.end_s + self.stride_s
        except Exception as error:
            log.exception("live analysis failed")
            self.error = error
            self._emit(LiveEvent("error", self.now_s(), details={"error": str(error)}))
        finally:
            self.stop_requested.set()
            self._emit(LiveEvent("ended", self.now_s(), details=self.stats.summary()))
            self.done.set()

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> "LiveEngine":
        if self.source is not None:
            self._threads.append(threading.Thread(target=self._read, name="live-reader", daemon=True))
        self._threads.append(threading.Thread(target=self._analyse_loop, name="live-analysis", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stop_requested.set()
        with self.buffer.arrived:
            self.buffer.arrived.notify_all()
        for thread in self._threads:
            thread.join(timeout_s)

    def _emit(self, event: LiveEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the watch
                log.exception("live listener failed on %s", event.kind)
