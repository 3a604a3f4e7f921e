"""Fusion, the unknown decision and timeline merging: the numbers behind every verdict."""

import pytest

from assistant.analysis.timeline import build_timeline, dominant_segment_label
from assistant.evidence import FusionSettings, Verdict
from assistant.fusion import decide, fuse, open_set_score
from assistant.runtime.open_set import conformal_upper

FUSION = FusionSettings(classifier_weight=0.6, unknown_threshold=0.4, open_set_floor=0.8, calibrated=True)


def test_fuse_weights_parts_over_the_union_of_labels():
    fused = fuse({"Fall": 0.8, "Slide": 0.2}, {"Slide": 0.5, "NewThing": 0.5}, classifier_weight=0.6)
    scores = {item.label: item.probability for item in fused}
    assert scores == pytest.approx({"Fall": 0.48, "Slide": 0.32, "NewThing": 0.2})
    assert [item.label for item in fused] == ["Fall", "Slide", "NewThing"]
    assert sum(scores.values()) == pytest.approx(1.0)


def test_fuse_with_one_part_uses_it_alone_whatever_the_weight():
    only_vote = fuse(None, {"Rotate": 0.7, "Fall": 0.3}, classifier_weight=0.9)
    assert [(s.label, s.probability) for s in only_vote] == [("Rotate", 0.7), ("Fall", 0.3)]
    assert fuse(None, None, 0.5) == []


def test_decide_names_the_leader_when_confident_and_matched():
    verdict = decide(fuse({"Fall": 0.9, "Slide": 0.1}, {"Fall": 1.0}, 0.6), {"Fall": 0.8, "Slide": 0.6}, FUSION)
    assert (verdict.label, verdict.is_unknown) == ("Fall", False)
    assert verdict.confidence == pytest.approx(0.94)
    assert "open-set" not in verdict.reason  # no impostor scores known: nothing to count


def test_a_named_verdict_says_how_many_of_the_floor_s_impostors_scored_as_high():
    """Open-set score 1.0 (support 0.8, lead 0.2). The floor 0.8 is the conformal 90 % quantile of 19 impostor
    scores (the 18th of them), so the one above it is a recording of another activity that would have been named."""
    impostors = (*(0.02 * n for n in range(17)), 0.8, 1.05)
    fusion = FUSION.model_copy(update={"open_set_impostors": impostors})
    assert conformal_upper(list(impostors), 0.1) == fusion.open_set_floor
    verdict = decide(fuse({"Fall": 0.9, "Slide": 0.1}, {"Fall": 1.0}, 0.6), {"Fall": 0.8, "Slide": 0.6}, fusion)
    assert verdict.label == "Fall"
    assert "open-set score 1.00 clears the 0.80 floor, and 1 of the 19 library recordings" in verdict.reason
    assert "open_set_impostors" not in fusion.model_dump_json()  # measured at every load, never written out


def test_decide_says_unknown_for_weak_guesses_and_weak_matches():
    weak = decide(fuse({"Fall": 0.35, "Slide": 0.33, "Rotate": 0.32}, None, 0.6), None, FUSION)
    assert weak.is_unknown and weak.label is None and "Fall" in weak.reason and "35%" in weak.reason
    # Support 0.5 with a lead of 0.2: open-set score 0.7, below the floor 0.8.
    far = decide(fuse({"Fall": 0.9, "Slide": 0.1}, {"Fall": 1.0}, 0.6), {"Fall": 0.5, "Slide": 0.3}, FUSION)
    assert far.is_unknown and "0.70" in far.reason and "0.80" in far.reason
    assert open_set_score({"Fall": 0.5, "Slide": 0.3, "_other": 0.49}, "Fall") == pytest.approx(0.7)
    nothing = decide([], None, FUSION)
    assert nothing.is_unknown and nothing.confidence == 0.0


def test_decide_says_unknown_when_the_frames_match_another_activity_better():
    fused = fuse({"Fall": 0.9, "Slide": 0.1}, {"Fall": 0.6, "Slide": 0.4}, 0.6)
    # The classifier's leader is not the activity the frames match best: a negative lead, score 0.45.
    disagree = decide(fused, {"Fall": 0.60, "Slide": 0.75}, FUSION)
    assert disagree.is_unknown and "Slide" in disagree.reason and "0.75" in disagree.reason
    assert decide(fused, {"Fall": 0.70, "Slide": 0.55}, FUSION).label == "Fall"  # 0.85 >= 0.8
    # Without a floor (a library too small to measure one, or one whose frames cannot), support never rejects.
    default = FusionSettings(classifier_weight=0.6, unknown_threshold=0.4, calibrated=False)
    assert decide(fused, {"Fall": 0.10, "Slide": 0.19}, default).label == "Fall"


def test_decide_says_unknown_near_the_none_of_these_examples():
    leader_negative = decide(fuse(None, {"_other": 0.7, "Fall": 0.3}, 0.6), {"_other": 0.9, "Fall": 0.6}, FUSION)
    assert leader_negative.is_unknown and "other activities" in leader_negative.reason
    closer_to_negative = decide(fuse(None, {"Fall": 0.6, "_other": 0.4}, 0.6), {"Fall": 0.7, "_other": 0.72}, FUSION)
    assert closer_to_negative.is_unknown and "0.72" in closer_to_negative.reason
    # Negatives are not a rival activity for the lead rule.
    fine = decide(fuse(None, {"Fall": 0.8, "_other": 0.2}, 0.6), {"Fall": 0.8, "_other": 0.6, "Slide": 0.6}, FUSION)
    assert fine.label == "Fall"


def _verdict(label: str | None, confidence: float = 0.9) -> Verdict:
    return Verdict(label=label, confidence=confidence, is_unknown=label is None, reason="")


def test_timeline_merges_agreeing_windows_and_tiles_the_video():
    spans = [(0, 4), (2, 6), (4, 8), (6, 10)]  # centres 2, 4, 6, 8 s
    verdicts = [_verdict("Fall", 0.9), _verdict("Fall", 0.7), _verdict("Slide", 0.8), _verdict(None, 0.2)]
    segments = build_timeline(spans, verdicts, duration_s=10.0)
    assert [(s.start_s, s.end_s, s.label) for s in segments] == [(0, 5, "Fall"), (5, 7, "Slide"), (7, 10, None)]
    assert segments[0].confidence == pytest.approx(0.8)
    label, share, confidence = dominant_segment_label(segments)
    assert (label, share, confidence) == ("Fall", pytest.approx(0.5), pytest.approx(0.8))
