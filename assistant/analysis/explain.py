"""Explain an answer on request: Grad-CAM on the windows the answer used, and when it mattered.

The video is decoded exactly as for the answer (``decode_for_analysis``), so the heat maps cover
the very frames that were classified. Only this path computes gradients, and only when a user
asks (the Explain control, ``python -m assistant explain``, a "why" follow-up); answers never
pay for it. Saliency itself is the model's business (``training.models.saliency``); this module picks
what to explain, finds the moments that carried the decision and says where the heat sits.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.analysis.gather import decode_for_analysis
from assistant.evidence import Evidence, ExplanationPart, KeyMoment, default_label
from assistant.runtime.resources import Resources, missing_part
from core.errors import ArtifactError, VideoError
from core.settings import Settings
from training.models.onnx_classifier import OnnxClassifier
from training.models.registry import get_spec
from training.models.saliency import ExplainedClips, explain_clips, frame_scores, importance_curve
from video.decoding import is_still
from video.frame_plan import sample_indices

KEY_FRAMES = 4
# Heat at least half its peak counts as "looked at" when measuring how much of the picture was used.
COVERAGE_LEVEL = 0.5
_ROWS = ("top", "middle", "bottom")
_COLUMNS = ("left", "centre", "right")


@dataclass(frozen=True)
class KeyFrame:
    """One frame the decision leaned on: the pixels the model saw and their heat, both at crop size."""

    time_s: float
    importance: float
    frame: np.ndarray
    heat: np.ndarray


@dataclass(frozen=True)
class Explanation:
    """The summary that joins the evidence, the key frames to draw, and the most decisive window's clip."""

    part: ExplanationPart
    key_frames: list[KeyFrame]
    clip_frames: np.ndarray
    clip_heat: np.ndarray


def region(heat: np.ndarray) -> str:
    """Where the heat's centre of mass sits, in thirds of the frame ("top left", "middle centre"...)."""
    total = heat.sum()
    if total <= 0:
        return "nowhere in particular"
    rows, columns = np.indices(heat.shape)
    row = int(min(2, 3 * (rows * heat).sum() / total / heat.shape[0]))
    column = int(min(2, 3 * (columns * heat).sum() / total / heat.shape[1]))
    return "centre" if (row, column) == (1, 1) else f"{_ROWS[row]} {_COLUMNS[column]}"


def _key_frames(explained: ExplainedClips, times: np.ndarray, scores: np.ndarray, min_gap_s: float) -> list[KeyFrame]:
    """The highest-scoring frames, more than ``min_gap_s`` apart (one for a still image), in time order."""
    peak = scores.max(initial=0.0) or 1.0
    chosen: list[tuple[int, int]] = []
    for flat in np.argsort(-scores, axis=None, kind="stable"):
        n, t = np.unravel_index(flat, scores.shape)
        if all(abs(times[n, t] - times[m, u]) > min_gap_s for m, u in chosen):
            chosen.append((int(n), int(t)))
        if len(chosen) == KEY_FRAMES:
            break
    chosen.sort(key=lambda nt: times[nt])
    return [
        KeyFrame(
            time_s=float(times[n, t]),
            importance=float(scores[n, t] / peak),
            frame=explained.frames[n, t],
            heat=explained.saliency.heat[n, t],
        )
        for n, t in chosen
    ]


def explain_video(
    video_path: str | os.PathLike,
    resources: Resources,
    settings: Settings,
    *,
    label: str | None = None,
    evidence: Evidence | None = None,
) -> Explanation:
    """Grad-CAM of ``label`` (default: the answer's verdict, else the classifier's first choice)."""
    classifier = resources.classifier
    if classifier is None:
        fix = missing_part(settings, "classifier", "").fix
        raise ArtifactError(f"Explaining needs a trained classifier and none is loaded. Train one: {fix}")
    if isinstance(classifier, OnnxClassifier):
        raise ArtifactError(
            "Explaining needs the classifier's torch checkpoint (Grad-CAM follows its gradients); "
            "this one answers from an ONNX export. Run without --bundle on the full install."
        )
    path = Path(video_path)
    if is_still(path) and not classifier.is_frame_model:
        raise VideoError(
            f"The classifier ({classifier.name}) is a 3D model that needs motion; a still image cannot be explained."
        )
    decoded = decode_for_analysis(path, resources, settings)
    clips = np.stack([clip.frames for clip in decoded.clips])
    if label is None:
        label = default_label(evidence, classifier.classes)
    if label is None:
        probabilities = classifier.predict_proba(clips).mean(axis=0)
        label = classifier.classes[int(np.argmax(probabilities))]
    explained = explain_clips(classifier, clips, label)
    saliency = explained.saliency
    window_weight = saliency.probabilities[:, saliency.target]
    # The frames the model saw, as Classifier.model_frames resamples them.
    steps = saliency.heat.shape[1]
    times = np.stack([clip.times_s[sample_indices(0, len(clip.times_s), steps)] for clip in decoded.clips])
    curve = importance_curve(times, saliency.frame_share, window_weight)
    scores = frame_scores(saliency.frame_share, window_weight)
    duration = max(decoded.info.duration_s, float(times.max()))
    key_frames = _key_frames(explained, times, scores, min_gap_s=duration / (2 * KEY_FRAMES))
    best = int(np.argmax(window_weight))
    spec = get_spec(classifier.name)
    part = ExplanationPart(
        label=label,
        probability=float(window_weight.mean()),
        model=classifier.name,
        method=f"Grad-CAM x input gradient ({'per frame' if spec.frame_model else '3D'}, layer {spec.saliency_layer})",
        peak_s=curve.peak_s,
        moments=[KeyMoment(time_s=k.time_s, importance=k.importance, region=region(k.heat)) for k in key_frames],
        coverage=float((saliency.heat >= COVERAGE_LEVEL).mean()),
        curve=[(float(t), float(v)) for t, v in zip(curve.times_s, curve.importance, strict=True)],
    )
    return Explanation(part, key_frames, explained.frames[best], saliency.heat[best])
