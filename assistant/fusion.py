"""One ranking from the classifier and the retrieval vote, and the decision to say "unknown".

The classifier knows only the classes it was trained on; the retrieval vote knows every label
in the frame index, including activities added later as example clips. A weighted sum over
the union of labels lets either part carry a label the other has never seen. Activities that
only the knowledge base describes get their share from CLIP zero-shot matching. Saying
"unknown" has these triggers: a weak best guess; a leader that is the "none of these" examples
or looks more like them; or, judged by the library's open-set floor, a clip whose frames match
the leader's examples (and lead the other activities' by) no more than clips of activities
outside the library do, whatever the classifier (forced to pick a class) says.
"""

from collections.abc import Collection, Mapping, Sequence

from assistant.evidence import FusionSettings, LabelScore, Verdict
from core.labels import is_negative

DEFAULT_CLASSIFIER_WEIGHT = 0.5
# Uncalibrated default: a best guess below 30% is not an answer with ten classes.
DEFAULT_UNKNOWN_THRESHOLD = 0.3
DEFAULT_FUSION = FusionSettings(
    classifier_weight=DEFAULT_CLASSIFIER_WEIGHT,
    unknown_threshold=DEFAULT_UNKNOWN_THRESHOLD,
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


def open_set_score(support: Mapping[str, float], label: str) -> float | None:
    """``label``'s support plus its lead over the best other activity's (``assistant.runtime.open_set``).

    None when ``label`` has no support or there is no other activity to lead.
    """
    others = [score for other, score in support.items() if other != label and not is_negative(other)]
    return 2 * support[label] - max(others) if label in support and others else None


def _unknown(confidence: float, reason: str) -> Verdict:
    return Verdict(label=None, confidence=confidence, is_unknown=True, reason=reason)


def _open_set_reason(label: str, support: Mapping[str, float] | None, fusion: FusionSettings) -> str | None:
    """Why the library says ``label`` is not one of its activities, or None when it does not say so.

    Two ways: the clip looks more like the "none of these" examples than like ``label``; or its
    open-set score (support plus lead over the next activity) is below the floor the library
    measured on its own recordings (``assistant.runtime.open_set``): its frames do not match
    ``label``'s examples better than clips of activities outside the library match theirs.
    """
    if not support or label not in support:
        return None  # no example clips of the leader: retrieval cannot judge it
    own = support[label]
    negative = max((score for other, score in support.items() if is_negative(other)), default=None)
    if negative is not None and negative >= own:
        return (
            f"it looks more like your examples of other activities (match {negative:.2f}) than like {label} ({own:.2f})"
        )
    score = open_set_score(support, label)
    if fusion.open_set_floor is None or score is None or score >= fusion.open_set_floor:
        return None
    runner_up = max((o for o in support if o != label and not is_negative(o)), key=support.__getitem__)
    return (
        f"its frames match the {label} examples at {own:.2f} and the {runner_up} ones at {support[runner_up]:.2f}: "
        f"open-set score {score:.2f}, below the {fusion.open_set_floor:.2f} that clips of activities outside the "
        "library reach"
    )


def decide(fused: list[LabelScore], support: Mapping[str, float] | None, fusion: FusionSettings) -> Verdict:
    """The verdict with its reason; ``support`` is the retrieval's per-label support, None without retrieval."""
    if not fused:
        return _unknown(0.0, "no classifier or frame index could score the clip")
    best = fused[0]
    if is_negative(best.label):
        return _unknown(best.probability, "it is closest to your examples of other activities (none of these)")
    if best.probability < fusion.unknown_threshold:
        return _unknown(
            best.probability,
            f"the best guess, {best.label}, has only {best.probability:.0%} confidence "
            f"(below the {fusion.unknown_threshold:.0%} threshold)",
        )
    if reason := _open_set_reason(best.label, support, fusion):
        return _unknown(best.probability, reason)
    reason = f"{best.label} leads the combined ranking with {best.probability:.0%}"
    return Verdict(
        label=best.label,
        confidence=best.probability,
        is_unknown=False,
        reason=reason + _open_set_pass(best.label, support, fusion),
    )


def _open_set_pass(label: str, support: Mapping[str, float] | None, fusion: FusionSettings) -> str:
    """How clearly ``label``'s open-set score cleared the floor: how many of the recordings the floor was measured
    on (each asked as an activity the library does not hold) scored as high; "" when no floor judged it."""
    score = open_set_score(support, label) if support and fusion.open_set_floor is not None else None
    if score is None or not fusion.open_set_impostors:
        return ""
    reached = sum(impostor >= score for impostor in fusion.open_set_impostors)
    return (
        f"; its open-set score {score:.2f} clears the {fusion.open_set_floor:.2f} floor, and {reached} of the "
        f"{len(fusion.open_set_impostors)} library recordings asked as another activity scored as high"
    )
