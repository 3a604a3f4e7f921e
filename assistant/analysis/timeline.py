"""Long videos as a timeline: per-window verdicts merged into segments that tile the video.

Windows overlap, so their raw spans would overlap too. Each window instead owns the time
closest to its centre (boundaries halfway between neighbouring centres); runs of adjacent
windows with the same label then merge into one segment, and segments never overlap.
"""

from collections.abc import Sequence

from assistant.evidence import Segment, Verdict


def build_timeline(
    spans: Sequence[tuple[float, float]], verdicts: Sequence[Verdict], duration_s: float
) -> list[Segment]:
    """``spans`` are the windows' (start_s, end_s) in time order; unknown windows get label None."""
    if len(spans) != len(verdicts):
        raise ValueError("one verdict per window is needed")
    if not spans:
        return []
    centres = [(start + end) / 2 for start, end in spans]
    cuts = [0.0] + [(a + b) / 2 for a, b in zip(centres[:-1], centres[1:], strict=True)] + [duration_s]
    segments: list[Segment] = []
    run_confidences: list[float] = []
    for index, verdict in enumerate(verdicts):
        label = None if verdict.is_unknown else verdict.label
        if segments and segments[-1].label == label:
            run_confidences.append(verdict.confidence)
            segments[-1] = segments[-1].model_copy(
                update={"end_s": cuts[index + 1], "confidence": sum(run_confidences) / len(run_confidences)}
            )
        else:
            run_confidences = [verdict.confidence]
            segments.append(
                Segment(start_s=cuts[index], end_s=cuts[index + 1], label=label, confidence=verdict.confidence)
            )
    return segments


def dominant_segment_label(segments: Sequence[Segment]) -> tuple[str | None, float, float]:
    """(label covering most time, its share of the video, its duration-weighted confidence)."""
    total = sum(s.end_s - s.start_s for s in segments)
    durations: dict[str | None, float] = {}
    weighted: dict[str | None, float] = {}
    for segment in segments:
        length = segment.end_s - segment.start_s
        durations[segment.label] = durations.get(segment.label, 0.0) + length
        weighted[segment.label] = weighted.get(segment.label, 0.0) + length * segment.confidence
    if not durations or total <= 0:
        return None, 0.0, 0.0
    known = {label: d for label, d in durations.items() if label is not None} or durations
    label = max(known, key=lambda key: (known[key], key or ""))
    length = durations[label]
    return label, length / total, weighted[label] / length if length else 0.0


def labels_by_duration(segments: Sequence[Segment]) -> list[str]:
    """Known labels of the timeline, the one covering most time first."""
    durations: dict[str, float] = {}
    for segment in segments:
        if segment.label:
            durations[segment.label] = durations.get(segment.label, 0.0) + segment.end_s - segment.start_s
    return sorted(durations, key=lambda label: (-durations[label], label))


def describe_timeline(segments: Sequence[Segment]) -> str:
    """One line such as ``0.0-5.0 s Fall (81%); 5.0-10.0 s Slide (77%)``."""
    return "; ".join(f"{s.start_s:.1f}-{s.end_s:.1f} s {s.label or 'unknown'} ({s.confidence:.0%})" for s in segments)
