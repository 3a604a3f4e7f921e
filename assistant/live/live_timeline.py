"""The live timeline: analysed windows merged into segments as they come, with wall-clock times.

The rule is the clip timeline's (``assistant.analysis.timeline``): each window owns the time
closest to its centre, so a boundary falls halfway between the centres of the last window of
one activity and the first of the next, and adjacent windows with the same label merge. A
live segment's end moves forward with every window until the label changes; an outage of the
stream ends the segment at the last frame before it and is kept as a gap, so "unknown" (the
camera saw something unrecognised) and "no video" are never confused. Only the most recent
``max_segments`` are kept, so a watch of many hours holds bounded memory.
"""

import threading
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime

from assistant.evidence import LabelScore, NeighbourClip, Verdict


@dataclass(frozen=True)
class LiveSegment:
    start_s: float  # seconds since the watch began
    end_s: float
    label: str | None  # None: unknown
    confidence: float  # mean over the segment's windows
    windows: int
    started_at: float  # wall clock (epoch seconds) of start_s
    top: tuple[LabelScore, ...] = ()  # the fused ranking of its most confident window
    neighbours: tuple[NeighbourClip, ...] = ()  # that window's most similar known clips
    reason: str = ""

    @property
    def ended_at(self) -> float:
        return self.started_at + (self.end_s - self.start_s)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def name(self) -> str:
        return self.label or "unknown"

    def as_json(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "started_at": datetime.fromtimestamp(self.started_at).isoformat(timespec="milliseconds"),
            "ended_at": datetime.fromtimestamp(self.ended_at).isoformat(timespec="milliseconds"),
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "windows": self.windows,
            "top": [item.model_dump() for item in self.top],
        }


@dataclass(frozen=True)
class Gap:
    """Seconds without video: the stream was lost and came back (or has not yet)."""

    start_s: float
    end_s: float
    started_at: float

    def as_json(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "started_at": datetime.fromtimestamp(self.started_at).isoformat(timespec="milliseconds"),
            "duration_s": round(self.end_s - self.start_s, 3),
        }


@dataclass(frozen=True)
class AnalysedWindow:
    start_s: float
    end_s: float
    verdict: Verdict
    fused: list[LabelScore]
    neighbours: list[NeighbourClip] = field(default_factory=list)

    @property
    def centre_s(self) -> float:
        return (self.start_s + self.end_s) / 2


class LiveTimeline:
    """Thread-safe; ``add`` returns the segments that the window started (at most one)."""

    def __init__(self, started_at: float, max_segments: int = 2000, top_k: int = 5) -> None:
        self.started_at = started_at
        self.top_k = top_k
        self.segments: deque[LiveSegment] = deque(maxlen=max_segments)
        self.gaps: deque[Gap] = deque(maxlen=max_segments)
        self._last: AnalysedWindow | None = None
        self._confidences: list[float] = []
        self._best = 0.0
        self._lock = threading.Lock()

    def wall(self, seconds: float) -> float:
        return self.started_at + seconds

    def add(self, window: AnalysedWindow) -> LiveSegment | None:
        """Extend the current segment, or start a new one (returned) when the label changes or after a gap."""
        label = None if window.verdict.is_unknown else window.verdict.label
        confidence = window.verdict.confidence
        with self._lock:
            last, current = self._last, (self.segments[-1] if self.segments else None)
            self._last = window
            after_gap = bool(self.gaps) and current is not None and self.gaps[-1].start_s >= current.end_s - 1e-9
            if current is not None and not after_gap and current.label == label:
                self._confidences.append(confidence)
                update = {"end_s": window.end_s, "windows": current.windows + 1}
                update["confidence"] = sum(self._confidences) / len(self._confidences)
                if confidence > self._best:
                    self._best = confidence
                    update |= {"top": tuple(window.fused[: self.top_k]), "neighbours": tuple(window.neighbours)}
                self.segments[-1] = replace(current, **update)
                return None
            start = window.start_s
            if current is not None and not after_gap and last is not None:
                start = max(current.start_s, (last.centre_s + window.centre_s) / 2)
                self.segments[-1] = replace(current, end_s=start)
            elif after_gap:
                start = max(window.start_s, self.gaps[-1].end_s)
            segment = LiveSegment(
                start_s=start,
                end_s=window.end_s,
                label=label,
                confidence=confidence,
                windows=1,
                started_at=self.wall(start),
                top=tuple(window.fused[: self.top_k]),
                neighbours=tuple(window.neighbours),
                reason=window.verdict.reason,
            )
            self._confidences, self._best = [confidence], confidence
            self.segments.append(segment)
            return segment

    def gap(self, start_s: float, end_s: float) -> Gap:
        """The stream was down from ``start_s`` (its last frame) to ``end_s`` (its first frame back)."""
        with self._lock:
            if self.segments and self.segments[-1].end_s > start_s:
                self.segments[-1] = replace(self.segments[-1], end_s=max(self.segments[-1].start_s, start_s))
            gap = Gap(start_s, end_s, self.wall(start_s))
            self.gaps.append(gap)
            self._last = None
            return gap

    def snapshot(self) -> tuple[list[LiveSegment], list[Gap]]:
        with self._lock:
            return list(self.segments), list(self.gaps)

    def current(self) -> LiveSegment | None:
        with self._lock:
            return self.segments[-1] if self.segments else None
