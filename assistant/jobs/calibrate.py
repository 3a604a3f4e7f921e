"""Choose the fusion weight and the "unknown" thresholds on the validation split.

The weight is the grid value with the best fused accuracy (ties go to the most even mix).

The confidence threshold spends a false-rejection budget: at most ``max_unknown_rate`` of clips
of known activities may be called unknown (half of it when the library's open-set floors apply
too). The floors themselves (support and lead) are not read off the validation split: they come
from the library's recordings asked with themselves left out (``open_set``), because validation
clips that are near-copies of indexed ones measure "have I seen this recording", not "do I know
this activity". The report says how many validation clips have a near-copy in the library. What matters
is the scores of *unseen* clips of known activities, and the validation split alone is a poor
sample of them: UCF101 groups make validation clips near-copies of training ones, so a model
can be right and 99 % sure on all of them, and a quantile of those scores lands at 0.99 and
rejects every real clip it is less sure of. So every validation clip is also scored as a
shifted copy (crop, compression, colour: ``shifted_copies``), and each threshold is the
conformal quantile of the clean and shifted scores together: a new clip drawn like them falls
below it with probability at most the budget. The threshold is further capped at
1/2, since a label holding most of the probability mass has no rival to be confused with.

The report adds the unknown rate on the validation split, on its shifted copies, and on an
unseen-class probe: each validation clip asked as if its activity had never been learnt (its
class dropped from the classifier's probabilities and its clips from the library), which is
what an activity the product does not know looks like to it.
"""

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from assistant.evidence import FusionSettings, LabelScore, Verdict
from assistant.fusion import decide, fuse
from assistant.jobs.shifted_copies import shifted_copy
from assistant.runtime.calibration import OPEN_SET_FIELDS, calibration_path, save_calibration
from assistant.runtime.resources import Resources
from core.errors import ArtifactError, DatasetError
from indexing.frames.clip_search import search_vectors
from indexing.frames.index_builder import cached_clip_frames
from training.data.frame_cache import FrameCache

WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
THRESHOLD_STEP = 0.01
MAX_UNKNOWN_RATE = 0.05
# Above 1/2 the leading label outweighs all the others together: never "no clear leader".
CONFIDENCE_CEILING = 0.5
# A validation clip whose best frame matches an indexed frame this closely is another cut of that recording.
NEAR_COPY_SIMILARITY = 0.95
SHIFT_SEED = 0


@dataclass
class ClipScores:
    """What the classifier and the retrieval said about one validation clip."""

    label: str
    classifier: dict[str, float] | None
    vote: dict[str, float] | None
    best_score: float | None
    support: dict[str, float] | None


@dataclass
class ValidationScores:
    """Each validation clip scored as it is, as a shifted copy, and with its activity unseen."""

    clean: list[ClipScores]
    shifted: list[ClipScores]
    unseen: list[ClipScores]


@dataclass
class CalibrationResult:
    fusion: FusionSettings
    accuracy: dict[str, float]
    unknown_rate: float  # on the validation split
    accuracy_with_unknown: float
    weights: dict[float, float]
    clips: int
    split: str
    max_unknown_rate: float
    unknown_rates: dict[str, float]  # validation, shifted copies, unseen-class probe
    near_copies: float | None = None  # share of validation clips with a near-copy in the library
    path: Path | None = None

    def table(self) -> str:
        """The side-by-side comparison the CLI prints, then how often each set is called unknown."""
        rows = [(name, f"{acc:.3f}") for name, acc in self.accuracy.items()]
        rows.append((f"fused + unknown (rate {self.unknown_rate:.1%})", f"{self.accuracy_with_unknown:.3f}"))
        width = max(len(name) for name, _ in rows)
        lines = [f"{'method'.ljust(width)}  accuracy ({self.split}, {self.clips} clips)"]
        lines += [f"{name.ljust(width)}  {value}" for name, value in rows]
        lines += ["", f"called unknown (budget {self.max_unknown_rate:.0%} of known clips):"]
        lines += [f"  {name}: {rate:.1%}" for name, rate in self.unknown_rates.items()]
        if self.fusion.open_set:
            lines += ["", self.fusion.open_set]
        if self.near_copies:
            lines.append(
                f"{self.near_copies:.0%} of the {self.split} clips have a near-copy in the library (best frame match "
                f">= {NEAR_COPY_SIMILARITY}): their accuracy measures memory of those recordings, not recognition"
            )
        return "\n".join(lines)


def _classifier_scores(resources: Resources, clip: np.ndarray) -> dict[str, float]:
    classifier = resources.classifier
    assert classifier is not None
    probabilities = classifier.predict_proba(np.asarray(clip)[None])[0]
    return {label: float(p) for label, p in zip(classifier.classes, probabilities, strict=True)}


def _without(scores: dict[str, float] | None, label: str) -> dict[str, float] | None:
    """Probabilities renormalised as if ``label`` were not a class."""
    if scores is None:
        return None
    rest = {other: p for other, p in scores.items() if other != label}
    total = sum(rest.values())
    return {other: p / total for other, p in rest.items()} if total > 0 else rest


def _score(
    resources: Resources, clip_id: str, label: str, clip: np.ndarray, index_frames: np.ndarray | None, k: int
) -> tuple[ClipScores, np.ndarray | None]:
    """(scores, the frames' vectors) of one copy of a validation clip; it never finds itself in the index."""
    classifier = _classifier_scores(resources, clip) if resources.classifier is not None else None
    if index_frames is None:
        return ClipScores(label, classifier, None, None, None), None
    assert resources.index is not None and resources.encoder is not None
    vectors = resources.encoder.encode(index_frames)
    result = search_vectors(resources.index, vectors, k, exclude_clips={clip_id})
    support = resources.segments.support(vectors, leave_out={clip_id})  # what answers' open-set decision reads
    return ClipScores(label, classifier, result.vote, result.best_score, support), vectors


def collect_scores(prepared_dir: str | os.PathLike, resources: Resources, split: str, k: int) -> ValidationScores:
    cache = FrameCache(prepared_dir)
    rows = cache.rows(split)
    if not rows:
        raise DatasetError(f"{prepared_dir} has no clips in split {split!r}; calibration needs them.")
    rng = np.random.default_rng(SHIFT_SEED)
    scores = ValidationScores([], [], [])
    for row in tqdm(rows, desc=f"calibrate on {split}", unit="clip"):
        clips = np.asarray(cache.load_frames(row.clip_id))
        clip = clips[len(clips) // 2]  # the middle cached clip, the one evaluation classifies
        frames = None
        if resources.index is not None:
            frames = cached_clip_frames(cache, row, resources.index.sampling.per_clip)[0]
        clean, vectors = _score(resources, row.clip_id, row.label, clip, frames, k)
        shifted_frames = shifted_copy(frames, rng) if frames is not None else None
        shifted, _ = _score(resources, row.clip_id, row.label, shifted_copy(clip, rng), shifted_frames, k)
        unseen = ClipScores(row.label, _without(clean.classifier, row.label), None, None, None)
        if vectors is not None:
            assert resources.index is not None
            probe = search_vectors(resources.index, vectors, k, exclude_clips={row.clip_id}, exclude_labels={row.label})
            support = resources.segments.support(vectors, leave_out={row.clip_id})
            unseen.vote, unseen.best_score = probe.vote, probe.best_score
            unseen.support = {other: score for other, score in support.items() if other != row.label}
        scores.clean.append(clean)
        scores.shifted.append(shifted)
        scores.unseen.append(unseen)
    return scores


def _leaders(scores: list[ClipScores], weight: float) -> list[LabelScore | None]:
    ranked = [fuse(s.classifier, s.vote, weight) for s in scores]
    return [r[0] if r else None for r in ranked]


def _accuracy(scores: list[ClipScores], weight: float) -> float:
    leaders = _leaders(scores, weight)
    return float(np.mean([lead is not None and lead.label == s.label for s, lead in zip(scores, leaders, strict=True)]))


def budget_threshold(values: Iterable[float], budget: float) -> float:
    """The conformal threshold: a new value drawn like ``values`` falls below it with probability <= ``budget``.

    It is the r-th smallest value, r = floor(budget * (n + 1)) (at least the smallest), rounded
    down to the threshold grid. Below-threshold means "unknown", so known clips' scores are
    what it is measured on; it depends only on their ranks, never on how far apart they are.
    """
    ordered = sorted(values)
    rank = max(1, math.floor(budget * (len(ordered) + 1)))
    return math.floor(ordered[rank - 1] / THRESHOLD_STEP) * THRESHOLD_STEP


def _verdicts(scores: list[ClipScores], fusion: FusionSettings) -> list[Verdict]:
    return [decide(fuse(s.classifier, s.vote, fusion.classifier_weight), s.support, fusion) for s in scores]


def _near_copy_share(scores: list[ClipScores]) -> float | None:
    similarities = [s.best_score for s in scores if s.best_score is not None]
    return float(np.mean([s >= NEAR_COPY_SIMILARITY for s in similarities])) if similarities else None


def _unknown_rate(verdicts: list[Verdict]) -> float:
    return float(np.mean([v.is_unknown for v in verdicts]))


def calibrate(
    prepared_dir: str | os.PathLike,
    resources: Resources,
    *,
    split: str = "val",
    k: int = 10,
    max_unknown_rate: float = MAX_UNKNOWN_RATE,
) -> CalibrationResult:
    if resources.classifier is None and resources.index is None:
        raise ArtifactError("Nothing to calibrate: there is neither a trained classifier nor a frame index.")
    if not 0.0 < max_unknown_rate < 1.0:
        raise ArtifactError(f"--max-unknown-rate must be between 0 and 1 (exclusive), not {max_unknown_rate}.")
    scores = collect_scores(prepared_dir, resources, split, k)
    clean = scores.clean
    weights = {w: _accuracy(clean, w) for w in WEIGHTS}
    both = resources.classifier is not None and resources.index is not None
    weight = max(WEIGHTS, key=lambda w: (weights[w], -abs(w - 0.5))) if both else 0.5
    known = clean + scores.shifted
    share = max_unknown_rate / 2 if both else max_unknown_rate
    confidences = [lead.probability if lead else 0.0 for lead in _leaders(known, weight)]
    threshold = min(budget_threshold(confidences, share), CONFIDENCE_CEILING)
    fusion = FusionSettings(
        classifier_weight=weight,
        unknown_threshold=threshold,
        calibrated=True,
        index_build_id=resources.index.manifest.get("build_id") if resources.index is not None else None,
    )
    # The library's open-set floor was measured when the snapshot loaded (Resources.load): reuse it.
    fusion = fusion.model_copy(update={name: getattr(resources.fusion, name) for name in OPEN_SET_FIELDS})
    verdicts = _verdicts(clean, fusion)
    accuracy = {}
    if resources.classifier is not None:
        accuracy["classifier only"] = weights[1.0] if both else weights[weight]
    if resources.index is not None:
        accuracy["retrieval only"] = weights[0.0] if both else weights[weight]
    if both:
        accuracy[f"fused (weight {weight:.1f})"] = weights[weight]
    return CalibrationResult(
        fusion=fusion,
        accuracy=accuracy,
        unknown_rate=_unknown_rate(verdicts),
        accuracy_with_unknown=float(np.mean([v.label == s.label for v, s in zip(verdicts, clean, strict=True)])),
        weights=weights if both else {},
        clips=len(clean),
        split=split,
        max_unknown_rate=max_unknown_rate,
        near_copies=_near_copy_share(clean),
        unknown_rates={
            f"{split} clips": _unknown_rate(verdicts),
            f"shifted copies of {split} clips": _unknown_rate(_verdicts(scores.shifted, fusion)),
            f"unseen-class probe ({split} clips, own activity removed)": _unknown_rate(
                _verdicts(scores.unseen, fusion)
            ),
        },
    )


def save_result(result: CalibrationResult, resources: Resources) -> Path:
    """Store next to the checkpoint (or in the index folder when retrieval is all there is)."""
    path = calibration_path(resources.checkpoint, resources.settings.index_dir if resources.index else None)
    assert path is not None
    report = {
        "split": result.split,
        "clips": result.clips,
        "accuracy": result.accuracy,
        "accuracy_with_unknown": result.accuracy_with_unknown,
        "unknown_rate": result.unknown_rate,
        "max_unknown_rate": result.max_unknown_rate,
        "unknown_rates": result.unknown_rates,
        "near_copies": result.near_copies,
        "weights_tried": {str(w): acc for w, acc in result.weights.items()},
        "checkpoint": str(resources.checkpoint) if resources.checkpoint else None,
        "index": {
            "dir": str(resources.settings.index_dir),
            "build_id": resources.index.manifest.get("build_id"),
            "encoder": resources.encoder.name if resources.encoder else None,
        }
        if resources.index is not None
        else None,
    }
    result.path = save_calibration(path, result.fusion, report)
    return result.path
