"""One ranking from the classifier and the retrieval vote, and the decision to say "unknown".

The classifier knows only the classes it was trained on; the retrieval vote knows every label
in the frame index, including activities added later as example clips. A weighted sum over
the union of labels lets either part carry a label the other has never seen. Activities that
only the knowledge base describes get their share from CLIP zero-shot matching. Saying
"unknown" has two triggers: a weak best guess, or a best neighbour so far away that nothing in
the library looks like the clip, whatever the classifier (forced to pick a class) says.
"""

from collections.abc import Collection, Mapping, Sequence

from assistant.analysis.evidence import FusionSettings, LabelScore, Verdict

DEFAULT_CLASSIFIER_WEIGHT = 0.5
# Uncalibrated default: a best guess below 30% is not an answer with ten classes.
DEFAULT_UNKNOWN_THRESHOLD = 0.3
DEFAULT_FUSION = FusionSettings(
    classifier_weight=DEFAULT_CLASSIFIER_WEIGHT,
    unknown_threshold=DEFAULT_UNKNOWN_THRESHOLD,
    min_neighbour_score=None,
    calibrated=False,
)


def weighted_sum(sources: Sequence[tuple[Mapping[str, float], float]]) -> dict[str, float]:
    """Sum of score maps weighted by their share of the total weight; absent labels count as 0."""
    total = sum(weight for _, weight in sources)
    if total <= 0:
        return {}
    fused: dict[str, float] = {}
    for scores, weight in sources:
        for label, score in scores.items():
            fused[label] = fused.get(label, 0.0) + score * weight / total
    return fused


def fuse(
    classifier: Mapping[str, float] | None, vote: Mapping[str, float] | None, classifier_weight: float
) -> list[LabelScore]:
    """Ranking over the union of labels; with one part present, that part alone (weight unused)."""
    if classifier is not None and vote is not None:
        sources = [(classifier, classifier_weight), (vote, 1.0 - classifier_weight)]
    else:
        sources = [(part, 1.0) for part in (classifier, vote) if part is not None]
    fused = weighted_sum(sources)
    return ranked(fused)


def with_zero_shot(
    fused: list[LabelScore], zero_shot: Mapping[str, float] | None, known: Collection[str]
) -> tuple[list[LabelScore], list[str]]:
    """Add zero-shot scores for the activities nothing else can score; (ranking, those activities).

    Single-frame CLIP matching is weaker evidence than a trained class or example clips, so it
    never re-ranks ``known`` labels. An activity only the KB describes keeps its zero-shot
    probability, and the other parts' ranking is scaled to share what is left: a new KB file
    alone makes its activity nameable. Without other parts, zero-shot ranks every activity.
    """
    unscored = {label: p for label, p in (zero_shot or {}).items() if label not in known}
    if not unscored:
        return fused, []
    rest = 1.0 - sum(unscored.values())
    scores = {item.label: item.probability * rest for item in fused}
    scores.update(unscored)
    return ranked(scores), sorted(unscored)


def ranked(scores: Mapping[str, float]) -> list[LabelScore]:
    """Best first; ties broken by label so the same input always gives the same order."""
    return [
        LabelScore(label=label, probability=float(score))
        for label, score in sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    ]


def decide(fused: list[LabelScore], best_neighbour_score: float | None, fusion: FusionSettings) -> Verdict:
    """The verdict with its reason; ``best_neighbour_score`` is None when there is no retrieval."""
    if not fused:
        return Verdict(
            label=None, confidence=0.0, is_unknown=True, reason="no classifier or frame index could score the clip"
        )
    best = fused[0]
    if best.probability < fusion.unknown_threshold:
        return Verdict(
            label=None,
            confidence=best.probability,
            is_unknown=True,
            reason=(
                f"the best guess, {best.label}, has only {best.probability:.0%} confidence "
                f"(below the {fusion.unknown_threshold:.0%} threshold)"
            ),
        )
    limit = fusion.min_neighbour_score
    if best_neighbour_score is not None and limit is not None and best_neighbour_score < limit:
        return Verdict(
            label=None,
            confidence=best.probability,
            is_unknown=True,
            reason=(
                f"the most similar indexed clip has similarity {best_neighbour_score:.2f}, below "
                f"{limit:.2f}: nothing in the library looks like this clip"
            ),
        )
    return Verdict(
        label=best.label,
        confidence=best.probability,
        is_unknown=False,
        reason=f"{best.label} leads the combined ranking with {best.probability:.0%}",
    )
