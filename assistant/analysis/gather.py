"""Turn a video (or still image) into ``Evidence``: decode once, classify, retrieve, match, fuse, read the KB.

The video is decoded in a single pass into time windows (one window when it is short) at the
size the classifier was trained on; the classifier and the frame encoder share those frames.
Short clips get one verdict; long ones get a verdict per window, merged into a timeline that
the overall verdict summarises. Every step is timed, and every part that is not available
is named in the evidence instead of failing the whole answer.
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from assistant.analysis.kb_passages import passages_for_clip, runners_up
from assistant.analysis.retrieval import merge_results
from assistant.analysis.step_timer import StepTimer
from assistant.analysis.timeline import build_timeline, describe_timeline, dominant_segment_label, labels_by_duration
from assistant.analysis.window_analysis import analyse_windows, open_set_support, scores
from assistant.evidence import (
    ClassifierPart,
    Evidence,
    LabelScore,
    NeighbourClip,
    RetrievalPart,
    Segment,
    UsedArtifacts,
    Verdict,
    VideoSummary,
    ZeroShotPart,
)
from assistant.fusion import decide, fuse, ranked, with_zero_shot
from assistant.runtime.calibration import stale_calibration_note
from assistant.runtime.resources import Resources
from core.settings import Settings
from video.decoding import DecodedVideo, VideoLimits, decode_windows, is_still, load_still

Progress = Callable[[float, str], Any]
# Windows overlap by a quarter: a change near one window's edge falls well inside the next,
# at three quarters of the classifier cost of half-overlapping windows (3 passes for 10 s, not 4).
WINDOW_OVERLAP = 0.25


def analysis_frames(resources: Resources, settings: Settings) -> tuple[int, int, bool]:
    """(frames per window, frame size, keep aspect) the models read: the classifier's, else the index's,
    else the settings'. A live stream's windows are shrunk to the same (``assistant.live``)."""
    if resources.classifier is not None:
        preprocessing = resources.classifier.preprocessing
        return preprocessing.num_frames, preprocessing.decode_size, preprocessing.keep_aspect
    if resources.index is not None:
        sampling = resources.index.sampling
        return sampling.per_clip, sampling.size, sampling.keep_aspect
    return settings.num_frames, settings.frame_size, False


def decode_for_analysis(path: Path, resources: Resources, settings: Settings) -> DecodedVideo:
    """Frames at the classifier's input size (else the index's, else the settings').

    Public because explaining an answer (``assistant.analysis.explain``) must see the very
    windows and frames the answer was computed from; decoding is deterministic.
    """
    num_frames, size, keep_aspect = analysis_frames(resources, settings)
    if is_still(path):
        return load_still(path, size, keep_aspect=keep_aspect)
    limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
    stride = settings.window_s * (1 - WINDOW_OVERLAP)
    return decode_windows(path, settings.window_s, stride, num_frames, size, keep_aspect=keep_aspect, limits=limits)


def classifier_part_of(resources: Resources, mean_probs: dict[str, float], top_k: int) -> ClassifierPart:
    assert resources.classifier is not None and resources.checkpoint is not None
    return ClassifierPart(
        checkpoint_name=resources.checkpoint.parent.name,
        checkpoint_path=str(resources.checkpoint),
        model=resources.classifier.name,
        top_k=ranked(mean_probs)[:top_k],
    )


def retrieval_part_of(resources: Resources, results: list, k: int, support: Mapping[str, float]) -> RetrievalPart:
    """``support``: what the open-set decision read (``window_analysis.open_set_supports``)."""
    assert resources.encoder is not None
    merged = merge_results(results, k)
    return RetrievalPart(
        neighbours=[NeighbourClip(**{**asdict(n), "near_copies": len(n.near_copies)}) for n in merged.neighbours],
        vote=ranked(merged.vote),
        encoder=resources.encoder.name,
        index_dir=str(resources.settings.index_dir),
        best_score=merged.best_score,
        support=ranked(support),
    )


def _overall_verdict(
    fused: list[LabelScore], support: Mapping[str, float] | None, resources: Resources, timeline: list[Segment]
) -> Verdict:
    """The clip's verdict; for a long video whose timeline changes activity, the dominant segment."""
    verdict = decide(fused, support, resources.fusion)
    if len({s.label for s in timeline}) < 2:
        return verdict
    label, share, confidence = dominant_segment_label(timeline)
    return Verdict(
        label=label,
        confidence=confidence,
        is_unknown=label is None,
        reason=(
            f"the video changes activity; {label or 'unknown'} covers {share:.0%} of it ({describe_timeline(timeline)})"
        ),
    )


def _mean_scores(per_window: list[dict[str, float]]) -> dict[str, float]:
    return {label: float(np.mean([scores[label] for scores in per_window])) for label in per_window[0]}


def gather_evidence(
    video_path: str | os.PathLike,
    resources: Resources,
    settings: Settings,
    *,
    progress: Progress | None = None,
    share_backbone: bool = True,
) -> Evidence:
    """Everything known about the clip; raises VideoError for files that cannot be decoded.

    When the classifier's frozen backbone is the index encoder's, one backbone pass feeds both
    (timing step ``features`` instead of ``classify`` + ``embed``); ``share_backbone=False``
    forces the two passes, so a benchmark or test can compare the two in one process.
    """
    report = progress or (lambda fraction, message: None)
    timer = StepTimer()
    path = Path(video_path)
    still = is_still(path)
    notes = list(resources.notes)
    if stale := stale_calibration_note(resources.fusion, resources.index):
        notes.append(stale)

    report(0.05, "decoding the video")
    with timer.step("decode"):
        decoded = decode_for_analysis(path, resources, settings)
    windows = decoded.clips
    if decoded.info.note:
        notes.append(decoded.info.note)

    analysis = analyse_windows(
        resources,
        windows,
        settings.neighbours_k,
        timer,
        notes,
        still=still,
        share_backbone=share_backbone,
        on_step=report,
    )
    probabilities, results, zero_shot = analysis.probabilities, analysis.results, analysis.zero_shot
    classes, shared, known = analysis.classes, analysis.shared, analysis.known
    window_zero_shot = zero_shot[1] if zero_shot else None

    report(0.8, "fusing and reading the knowledge base")
    timeline = []
    if len(windows) > 1:
        timeline = build_timeline([(w.start_s, w.end_s) for w in windows], analysis.verdicts, decoded.info.duration_s)
    mean_probs = scores(classes, probabilities.mean(axis=0)) if probabilities is not None else None
    classifier_part = classifier_part_of(resources, mean_probs, settings.top_k) if mean_probs is not None else None
    retrieval_part = (
        retrieval_part_of(resources, results, settings.neighbours_k, analysis.video_support)
        if results is not None
        else None
    )
    vote = {v.label: v.probability for v in retrieval_part.vote} if retrieval_part else None
    zero_shot_mean = _mean_scores(window_zero_shot) if window_zero_shot else None
    fused, zero_shot_only = with_zero_shot(
        fuse(mean_probs, vote, resources.fusion.classifier_weight), zero_shot_mean, known
    )
    support = {s.label: s.probability for s in retrieval_part.support} if retrieval_part else None
    verdict = _overall_verdict(fused, open_set_support(fused, support, zero_shot_only), resources, timeline)
    zero_shot_part = (
        ZeroShotPart(model=zero_shot[0], scores=ranked(zero_shot_mean)[: settings.top_k], only_labels=zero_shot_only)
        if zero_shot and zero_shot_mean is not None
        else None
    )

    passages = []
    if resources.kb is not None:
        with timer.step("kb"):
            leader = verdict.label or (fused[0].label if fused else None)
            others = labels_by_duration(timeline) + runners_up(fused)
            passages, kb_notes = passages_for_clip(resources.kb, leader, others)
        notes.extend(kb_notes)
    report(1.0, "done")
    info = decoded.info
    return Evidence(
        source_path=str(path),
        media_kind="image" if still else "video",
        video=VideoSummary(
            fps=info.fps, frame_count=info.frame_count, duration_s=info.duration_s, width=info.width, height=info.height
        ),
        classifier=classifier_part,
        retrieval=retrieval_part,
        zero_shot=zero_shot_part,
        fused=fused[: max(settings.top_k, 1)],
        fusion=resources.fusion,
        verdict=verdict,
        timeline=timeline,
        kb_passages=passages,
        missing=list(resources.missing),
        notes=notes,
        timings_ms=timer.total(),
        shared_backbone=shared,
        used=UsedArtifacts(**resources.names),
    )
