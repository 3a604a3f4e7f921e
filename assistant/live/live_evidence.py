"""A live timeline as ``Evidence``, so chat about a stream is answered (and grounding-checked) like a clip.

The evidence's timeline is the live one (seconds since the watch began), its verdict the
current activity, its ranking and similar clips those of the current segment's most confident
window, and its KB passages those of the activities seen. The writers, the prompt and the
grounding check then need nothing live-specific. Questions about *when* and *how long* are
answered first from the timeline itself, by rule (``timeline_facts``): exact times a language
model could only get wrong.
"""

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from assistant.analysis.kb_passages import passages_for_clip, runners_up
from assistant.analysis.timeline import labels_by_duration
from assistant.evidence import Evidence, RetrievalPart, Segment, UsedArtifacts, Verdict, VideoSummary
from assistant.live.engine import LiveEngine
from assistant.live.live_timeline import LiveSegment
from assistant.runtime.resources import Resources
from assistant.service import Assistant
from core.errors import VideoError

# An LLM prompt holds the recent part of a long watch; the timeline keeps more for the chart.
MAX_SEGMENTS_IN_EVIDENCE = 60


def _verdict(segment: LiveSegment | None, now_s: float) -> Verdict:
    if segment is None:
        return Verdict(label=None, confidence=0.0, is_unknown=True, reason="no window of the stream analysed yet")
    return Verdict(
        label=segment.label,
        confidence=segment.confidence,
        is_unknown=segment.label is None,
        reason=f"the live stream has shown {segment.name} for the last {now_s - segment.start_s:.0f} s",
    )


def live_evidence(engine: LiveEngine, resources: Resources, source: str) -> Evidence:
    """Raises VideoError before the first window has been analysed: there is nothing to talk about yet."""
    segments, gaps = engine.timeline.snapshot()
    if not segments:
        raise VideoError("No part of the stream has been analysed yet: wait for the first window, then ask.")
    segments = segments[-MAX_SEGMENTS_IN_EVIDENCE:]
    now = engine.now_s()
    current = segments[-1]
    timeline = [Segment(start_s=s.start_s, end_s=s.end_s, label=s.label, confidence=s.confidence) for s in segments]
    retrieval = None
    if current.neighbours and resources.encoder is not None:
        retrieval = RetrievalPart(
            neighbours=list(current.neighbours),
            vote=[],
            encoder=resources.encoder.name,
            index_dir=str(resources.settings.index_dir),
            best_score=max(n.score for n in current.neighbours),
        )
    passages, notes = [], []
    if resources.kb is not None:
        passages, notes = passages_for_clip(
            resources.kb, current.label, labels_by_duration(timeline) + runners_up(list(current.top))
        )
    started = datetime.fromtimestamp(engine.timeline.started_at).strftime("%H:%M:%S")
    notes = [
        f"Live stream {source}, watched since {started}; timeline times are seconds since then, and it is now "
        f"{now:.0f} s. {engine.stats.skipped} frame(s) were skipped to keep up.",
        *(f"The stream was lost from {g.start_s:.0f} s to {g.end_s:.0f} s (no video)." for g in gaps[-5:]),
        *notes,
    ]
    stats = engine.stats
    return Evidence(
        source_path=source,
        media_kind="video",
        video=VideoSummary(
            fps=stats.fps, frame_count=stats.frames, duration_s=now, width=stats.width, height=stats.height
        ),
        retrieval=retrieval,
        fused=list(current.top),
        fusion=resources.fusion,
        verdict=_verdict(current, now),
        timeline=timeline if len(timeline) > 1 else [],
        kb_passages=passages,
        missing=list(resources.missing),
        notes=notes,
        used=UsedArtifacts(**resources.names),
    )


def _clock(engine: LiveEngine, seconds: float) -> str:
    return datetime.fromtimestamp(engine.timeline.wall(seconds)).strftime("%H:%M:%S")


def _span_s(question: str) -> float | None:
    """'the last minute' -> 60, 'last 30 seconds' -> 30, 'last 5 min' -> 300."""
    match = re.search(r"last\s+(\d+(?:\.\d+)?)?\s*(second|sec|s\b|minute|min|hour)", question.lower())
    if not match:
        return None
    amount = float(match.group(1) or 1)
    unit = match.group(2)
    return amount * (3600 if unit.startswith("hour") else 60 if unit.startswith("min") else 1)


def _named_label(question: str, segments: list[LiveSegment]) -> str | None:
    words = re.sub(r"[^a-z]", "", question.lower())
    for label in sorted({s.label for s in segments if s.label}, key=len, reverse=True):
        if re.sub(r"[^a-z]", "", label.lower()) in words:
            return label
    return None


def timeline_facts(question: str, engine: LiveEngine) -> str | None:
    """A markdown paragraph answering when / how long / what in the last N from the timeline, or None."""
    segments, gaps = engine.timeline.snapshot()
    if not segments:
        return None
    now = engine.now_s()
    text = question.lower()
    label = _named_label(question, segments)
    if label and re.search(r"\bwhen\b|start|begin|began", text):
        runs = [s for s in segments if s.label == label]
        last = runs[-1]
        ongoing = last is segments[-1]
        tail = (
            "and is still going on"
            if ongoing
            else f"and lasted {last.duration_s:.0f} s (until {_clock(engine, last.end_s)})"
        )
        more = (
            f" It was seen {len(runs)} times in all; the first began at {_clock(engine, runs[0].start_s)}."
            if len(runs) > 1
            else ""
        )
        return (
            f"**{label}** last started at {_clock(engine, last.start_s)} ({now - last.start_s:.0f} s ago) {tail}.{more}"
        )
    if label and re.search(r"how long|how much time|duration", text):
        runs = [s for s in segments if s.label == label]
        total = sum(s.duration_s for s in runs)
        return f"**{label}**: {total:.0f} s in all, over {len(runs)} segment(s) of the {now:.0f} s watched."
    span = _span_s(question)
    if span is None and re.search(r"what (just )?happened|so far|recently", text):
        span = now
    if span is None:
        return None
    since = max(0.0, now - span)
    recent = [s for s in segments if s.end_s > since]
    lines = [
        f"- {_clock(engine, max(s.start_s, since))}–{_clock(engine, s.end_s)} **{s.name}** "
        f"({min(s.end_s, now) - max(s.start_s, since):.0f} s, {s.confidence:.0%})"
        for s in recent
    ]
    lines += [
        f"- {_clock(engine, g.start_s)}–{_clock(engine, g.end_s)} *no video (stream lost)*"
        for g in gaps
        if g.end_s > since
    ]
    return f"In the last {span:.0f} s of the stream:\n" + "\n".join(lines)


def answer_live(
    assistant: Assistant, engine: LiveEngine, source: str, question: str, history: Iterable[Any] | None = None
) -> Iterator[str]:
    """Chunks of markdown: the timeline's facts for the question (when it asks when / how long / what
    recently), then the assistant's answer about the live evidence, grounding check included."""
    evidence = live_evidence(engine, assistant.snapshot(), source)
    if facts := timeline_facts(question, engine):
        yield facts + "\n\n"
    yield from assistant.answer_stream(question, evidence, history)
