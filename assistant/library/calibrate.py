"""Choose the fusion weight and the "unknown" thresholds on the validation split.

The weight is the grid value with the best fused accuracy (ties go to the most even mix).
The validation clips are all known activities, so any threshold only loses accuracy there;
each threshold is therefore placed below all but ``max_unknown_rate`` of the genuine clips
(split between the two tests when both apply), with a margin of one standard deviation for
the small size of a validation split. That is the "sensible unknown rate": a clip is called
unknown only when it is clearly less confident, or further from the library, than the real
examples of known activities.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from assistant.analysis.evidence import FusionSettings
from assistant.analysis.fusion import decide, fuse
from assistant.library.calibration import calibration_path, save_calibration
from assistant.library.resources import Resources
from core.errors import ArtifactError, DatasetError
from indexing.clip_search import search_vectors
from indexing.index_builder import cached_clip_frames
from training.frame_cache import FrameCache

WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
THRESHOLD_STEP = 0.01
MAX_UNKNOWN_RATE = 0.05


@dataclass
class ClipScores:
    """What the classifier and the retrieval said about one validation clip."""

    label: str
    classifier: dict[str, float] | None
    vote: dict[str, float] | None
    best_score: float | None


@dataclass
class CalibrationResult:
    fusion: FusionSettings
    accuracy: dict[str, float]
    unknown_rate: float
    accuracy_with_unknown: float
    weights: dict[float, float]
    clips: int
    split: str
    path: Path | None = None

    def table(self) -> str:
        """The side-by-side comparison the CLI prints."""
        rows = [(name, acc) for name, acc in self.accuracy.items()]
        rows.append((f"fused + unknown (rate {self.unknown_rate:.1%})", self.accuracy_with_unknown))
        width = max(len(name) for name, _ in rows)
        lines = [f"{'method'.ljust(width)}  accuracy ({self.split}, {self.clips} clips)"]
        lines += [f"{name.ljust(width)}  {acc:.3f}" for name, acc in rows]
        return "\n".join(lines)


def _classifier_scores(resources: Resources, frames: np.ndarray) -> dict[str, float]:
    """Probabilities for the middle cached clip, the one evaluation uses."""
    classifier = resources.classifier
    assert classifier is not None
    probabilities = classifier.predict_proba(np.asarray(frames[len(frames) // 2])[None])[0]
    return {label: float(p) for label, p in zip(classifier.classes, probabilities, strict=True)}


def collect_scores(prepared_dir: str | os.PathLike, resources: Resources, split: str, k: int) -> list[ClipScores]:
    cache = FrameCache(prepared_dir)
    rows = cache.rows(split)
    if not rows:
        raise DatasetError(f"{prepared_dir} has no clips in split {split!r}; calibration needs them.")
    scores = []
    for row in tqdm(rows, desc=f"calibrate on {split}", unit="clip"):
        classifier = _classifier_scores(resources, cache.load_frames(row.clip_id)) if resources.classifier else None
        vote = best = None
        if resources.index is not None and resources.encoder is not None:
            frames, _ = cached_clip_frames(cache, row, resources.index.sampling.per_clip)
            # A validation clip that is also indexed must not find itself.
            result = search_vectors(resources.index, resources.encoder.encode(frames), k, exclude_clips={row.clip_id})
            vote = result.vote
            best = max((n.score for n in result.neighbours), default=0.0)
        scores.append(ClipScores(row.label, classifier, vote, best))
    return scores


def _predictions(scores: list[ClipScores], weight: float) -> list[tuple[str | None, float]]:
    ranked = [fuse(s.classifier, s.vote, weight) for s in scores]
    return [(r[0].label, r[0].probability) if r else (None, 0.0) for r in ranked]


def _accuracy(scores: list[ClipScores], predictions: list[tuple[str | None, float]]) -> float:
    return float(np.mean([label == s.label for s, (label, _) in zip(scores, predictions, strict=True)]))


def highest_threshold(values: list[float], max_rate: float) -> float:
    """A threshold that calls at most ``max_rate`` of genuine clips' ``values`` too low.

    It is the empirical ``max_rate`` quantile lowered by one standard deviation of the values:
    a validation split of a few dozen clips pins down its lower tail poorly, and without the
    margin unseen clips of known activities would be called unknown far more often than
    ``max_rate``. Rounded down to the threshold grid.
    """
    ordered = sorted(values)
    allowed = min(int(np.floor(max_rate * len(ordered))), len(ordered) - 1)
    # Values at or above the (allowed+1)-th smallest keep all but ``allowed`` clips known.
    limit = ordered[allowed] - float(np.std(ordered))
    return float(np.floor(limit / THRESHOLD_STEP) * THRESHOLD_STEP)


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
    scores = collect_scores(prepared_dir, resources, split, k)
    weights = {w: _accuracy(scores, _predictions(scores, w)) for w in WEIGHTS}
    both = resources.classifier is not None and resources.index is not None
    weight = max(WEIGHTS, key=lambda w: (weights[w], -abs(w - 0.5))) if both else 0.5
    chosen = _predictions(scores, weight)
    share = max_unknown_rate / 2 if both else max_unknown_rate
    threshold = highest_threshold([confidence for _, confidence in chosen], share)
    min_score = highest_threshold([s.best_score for s in scores], share) if resources.index is not None else None
    fusion = FusionSettings(
        classifier_weight=weight, unknown_threshold=threshold, min_neighbour_score=min_score, calibrated=True
    )
    verdicts = [decide(fuse(s.classifier, s.vote, weight), s.best_score, fusion) for s in scores]
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
        unknown_rate=float(np.mean([v.is_unknown for v in verdicts])),
        accuracy_with_unknown=float(np.mean([v.label == s.label for v, s in zip(verdicts, scores, strict=True)])),
        weights=weights if both else {},
        clips=len(scores),
        split=split,
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
        "max_unknown_rate": MAX_UNKNOWN_RATE,
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
