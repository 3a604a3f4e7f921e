"""Decoded windows -> per-window verdicts: classify (or one shared backbone pass), search, zero-shot, fuse, decide.

The one piece both a finished clip (``gather.gather_evidence``) and a live stream
(``assistant.live``) run on their decoded windows, so a live verdict is exactly the verdict the
same frames would get as an uploaded clip: same models, fusion, unknown decision and
one-backbone-pass path. What differs is only where the windows come from and what is done
with the verdicts (one clip's evidence, or a rolling timeline).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.analysis.retrieval import search_windows
from assistant.analysis.shared_backbone import classify_from_shared_pass, shares_backbone
from assistant.analysis.step_timer import StepTimer
from assistant.evidence import LabelScore, Verdict
from assistant.fusion import decide, fuse, with_zero_shot
from assistant.runtime.resources import Resources
from assistant.runtime.segment_support import SegmentLibrary
from core.errors import KnowledgeBaseError
from indexing.frames.clip_search import ClipSearchResult
from video.decoding import Clip


@dataclass(frozen=True)
class WindowAnalysis:
    """Every part's scores per window, and each window's fused ranking and verdict."""

    classes: list[str]
    probabilities: np.ndarray | None  # (windows, classes), None without a classifier
    results: list[ClipSearchResult] | None  # one per window, None without an index
    zero_shot: tuple[str, list[dict[str, float]]] | None  # (model, scores per window)
    known: set[str]  # labels a trained class or example clips can score
    shared: bool  # one backbone pass fed the classifier and the search
    fused: list[list[LabelScore]]  # per window, best first
    verdicts: list[Verdict]  # per window
    video_support: dict[str, float] | None  # the whole video's open-set support, None without an index


def scores(labels: list[str], probabilities: np.ndarray) -> dict[str, float]:
    return {label: float(p) for label, p in zip(labels, probabilities, strict=True)}


def open_set_support(
    fused: list[LabelScore], support: Mapping[str, float] | None, zero_shot_only: list[str]
) -> Mapping[str, float] | None:
    """The open-set rules cannot judge an activity the library holds no clips of."""
    return None if fused and fused[0].label in zero_shot_only else support


def open_set_supports(
    segments: SegmentLibrary, per_window: Sequence[np.ndarray]
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """The support the open-set decision reads (``segment_support``): each window's, from the frames it
    searched with, and the whole video's, from all of them in time order (a window of a long video holds
    only a few of the video's query frames; the video's stretches are judged over all of them)."""
    return [segments.support(vectors) for vectors in per_window], segments.support(np.concatenate(per_window))


def _classify(resources: Resources, windows: Sequence[Clip], still: bool, notes: list[str]) -> np.ndarray | None:
    """(windows, classes) probabilities, or None when there is no classifier or it cannot judge a still."""
    classifier = resources.classifier
    if classifier is None:
        return None
    if still and not classifier.is_frame_model:
        notes.append(
            f"The classifier ({classifier.name}) is a 3D model that needs motion; it was skipped for this "
            "still image, so only frame retrieval answers."
        )
        return None
    return np.asarray(classifier.predict_proba(np.stack([clip.frames for clip in windows])), dtype=np.float64)


def _zero_shot(
    resources: Resources, windows: Sequence[Clip], known: set[str], timer: StepTimer
) -> tuple[str, list[dict[str, float]]] | None:
    """(model, scores per window) of every KB activity, when one has neither a class nor example clips.

    When every activity has one, zero-shot could not change the ranking, so CLIP is not run
    (nor loaded): it would only add its cost to the answer.
    """
    try:
        entries = resources.kb.entries() if resources.kb is not None else {}
    except KnowledgeBaseError:
        return None  # the KB step says the knowledge base could not be read
    if not set(entries) - known:
        return None
    scorer = resources.zero_shot_scorer()
    if scorer is None:
        return None
    with timer.step("zero_shot"):
        return scorer.name, scorer.score_windows(list(windows), entries)


def analyse_windows(
    resources: Resources,
    windows: Sequence[Clip],
    neighbours_k: int,
    timer: StepTimer,
    notes: list[str],
    *,
    still: bool = False,
    share_backbone: bool = True,
    on_step=None,
) -> WindowAnalysis:
    """Scores and verdicts of ``windows`` (decoded at the classifier's input size).

    ``on_step(fraction, message)`` reports progress; ``notes`` collects what the user should know.
    """
    report = on_step or (lambda fraction, message: None)
    shared = share_backbone and shares_backbone(resources.classifier, resources.encoder, resources.index, windows)
    features = None
    if shared:
        assert resources.classifier is not None and resources.encoder is not None and resources.index is not None
        report(0.3, "computing frame features (one backbone pass for classifier and search)")
        with timer.step("features"):
            probabilities, features = classify_from_shared_pass(
                resources.classifier, resources.encoder, resources.index, windows
            )
    else:
        report(0.3, "classifying")
        with timer.step("classify"):
            probabilities = _classify(resources, windows, still, notes)
    classes = list(resources.classifier.classes) if resources.classifier is not None else []

    report(0.55, "searching similar clips")
    results, supports, video_support = None, None, None
    if resources.index is not None and resources.encoder is not None:
        results, vectors = search_windows(resources.index, resources.encoder, windows, neighbours_k, timer, features)
        assert resources.segments is not None  # set with the index (``Resources``)
        supports, video_support = open_set_supports(resources.segments, vectors)

    report(0.7, "matching knowledge-base activities (zero-shot)")
    known = set(classes if probabilities is not None else []) | set(resources.index.classes() if results else [])
    zero_shot = _zero_shot(resources, windows, known, timer)
    window_zero_shot = zero_shot[1] if zero_shot else None

    fused_per_window, verdicts = [], []
    for n in range(len(windows)):
        window_classifier = scores(classes, probabilities[n]) if probabilities is not None else None
        window_vote = results[n].vote if results is not None else None
        support = supports[n] if supports is not None else None
        fused = fuse(window_classifier, window_vote, resources.fusion.classifier_weight)
        fused, only = with_zero_shot(fused, window_zero_shot[n] if window_zero_shot else None, known)
        fused_per_window.append(fused)
        verdicts.append(decide(fused, open_set_support(fused, support, only), resources.fusion))
    return WindowAnalysis(
        classes, probabilities, results, zero_shot, known, shared, fused_per_window, verdicts, video_support
    )
