"""Explaining an answer: when the decision happened in a long video, the CLI's files, the follow-ups.

Uses the session's trained motion cnn3d and its assistant data directory (tests/conftest.py).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.__main__ import main
from assistant.analysis.explain import explain_video, region
from assistant.answering.llm.offline import followup_answer
from assistant.answering.prompt import format_evidence
from assistant.evidence import (
    ClassifierPart,
    Evidence,
    ExplanationPart,
    KeyMoment,
    LabelScore,
    Verdict,
    VideoSummary,
)
from core.errors import ArtifactError
from testkit.assistant_data import CLIP_FRAMES, FPS
from testkit.synthetic import motion_frames, write_opencv

STILL_S = 3.0
MOTION_REPEATS = 2  # 4 s of a seamless loop


def write_inserted_activity(path, label: str = "Oscillate", seed: int = 99):
    """The bar held still for 3 s, then ``label`` for 4 s, then still again for 3 s: (path, span)."""
    motion = np.tile(
        motion_frames(label, np.random.default_rng(seed), (64, 64), CLIP_FRAMES), (MOTION_REPEATS, 1, 1, 1)
    )
    still = int(STILL_S * FPS)
    video = np.concatenate([np.repeat(motion[:1], still, axis=0), motion, np.repeat(motion[-1:], still, axis=0)])
    span = (STILL_S, STILL_S + len(motion) / FPS)
    return write_opencv(path, video, fps=FPS), span


def test_the_importance_peak_falls_inside_the_span_where_the_activity_happens(
    assistant_resources, assistant_settings, tmp_path
):
    path, (start, end) = write_inserted_activity(tmp_path / "inserted.avi")
    explanation = explain_video(path, assistant_resources, assistant_settings, label="Oscillate")
    part = explanation.part
    times, values = np.array(part.curve).T
    print(f"peak {part.peak_s:.2f} s, activity {start}-{end} s, moments {[m.time_s for m in part.moments]}")
    assert start <= part.peak_s <= end
    inside = (times >= start) & (times <= end)
    assert values[inside].mean() > 2 * values[~inside].mean()
    assert values.max() == pytest.approx(1.0)
    assert 0 < part.coverage < 1 and len(explanation.key_frames) >= 2
    assert explanation.key_frames[0].frame.shape[:2] == explanation.key_frames[0].heat.shape


def test_region_names_the_third_of_the_frame_where_the_heat_is():
    heat = np.zeros((30, 30))
    heat[2:8, 22:28] = 1
    assert region(heat) == "top right"
    heat = np.zeros((30, 30))
    heat[12:18, 12:18] = 1
    assert region(heat) == "centre"
    assert region(np.zeros((30, 30))) == "nowhere in particular"


def where(settings) -> list[str]:
    return ["--data-dir", str(settings.data_dir), "--kb-dir", str(settings.kb_dir), "--llm", "offline"]


def test_cli_writes_overlays_a_gif_and_the_curve_and_prints_them(assistant_settings, query_clips, tmp_path, capsys):
    out = tmp_path / "explained"
    code = main(["explain", str(query_clips["Fall"]), "--out", str(out), "--json", *where(assistant_settings)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["label"] == "Fall" and printed["model"] == "cnn3d"
    assert len(printed["curve"]) >= 8 and max(v for _, v in printed["curve"]) == pytest.approx(1.0)
    files = [Path(name) for name in printed["files"]]
    assert all(f.parent == out for f in files)
    assert all(f.is_file() and f.stat().st_size > 500 for f in files)
    assert sum(f.suffix == ".png" for f in files) >= 3 and any(f.suffix == ".gif" for f in files)
    assert files[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_refuses_a_class_the_classifier_does_not_know(assistant_settings, query_clips, capsys):
    with pytest.raises(ArtifactError, match="has no class 'Surfing'; it knows"):
        main(["explain", str(query_clips["Fall"]), "--label", "Surfing", *where(assistant_settings)])


def _evidence(explanations: list[ExplanationPart]) -> Evidence:
    top = [LabelScore(label="Fall", probability=0.8), LabelScore(label="Slide", probability=0.15)]
    return Evidence(
        source_path="clip.avi",
        media_kind="video",
        video=VideoSummary(fps=12, frame_count=24, duration_s=2.0, width=64, height=64),
        classifier=ClassifierPart(checkpoint_name="run", checkpoint_path="run/checkpoint.pt", model="cnn3d", top_k=top),
        fused=top,
        verdict=Verdict(label="Fall", confidence=0.8, is_unknown=False, reason="the classifier is sure"),
        explanations=explanations,
    )


def _part(label: str, peak: float, probability: float) -> ExplanationPart:
    moments = [
        KeyMoment(time_s=peak, importance=1.0, region="top left"),
        KeyMoment(time_s=1.5, importance=0.4, region="centre"),
    ]
    return ExplanationPart(
        label=label,
        probability=probability,
        model="cnn3d",
        method="Grad-CAM (3D, layer x)",
        peak_s=peak,
        moments=moments,
        coverage=0.12,
        curve=[(0.0, 0.2), (peak, 1.0)],
    )


def test_what_did_you_look_at_is_answered_from_the_explanation():
    answer = "\n\n".join(followup_answer("What did you look at?", _evidence([_part("Fall", 0.7, 0.8)]), []))
    assert "For **Fall**" in answer and "top left of the frame" in answer and "**0.7 s**" in answer
    assert "12% of the pictures" in answer and "1.5 s (centre)" in answer
    assert "knowledge base passages" not in answer


def test_why_not_compares_the_scores_and_says_where_the_rival_was_seen():
    evidence = _evidence([_part("Fall", 0.7, 0.8), _part("Slide", 1.2, 0.15)])
    answer = "\n\n".join(followup_answer("Why not Slide?", evidence, []))
    assert "gives **Slide** 15% against 80% for **Fall**" in answer
    assert "Looking for Slide, the classifier" in answer and "**1.2 s**" in answer
    assert "Fall peaked at 0.7 s" in answer


def test_unexplained_class_gets_directions_instead_of_a_guess():
    answer = "\n\n".join(followup_answer("why isn't it a Slide?", _evidence([]), []))
    assert "gives **Slide** 15%" in answer
    assert "choose Slide and press Explain" in answer and "--label Slide" in answer
    other = "\n\n".join(followup_answer("How does Fall look on video?", _evidence([]), []))
    assert "Explain" not in other


def test_a_language_model_reads_the_explanation_in_its_evidence():
    lines = format_evidence(_evidence([_part("Slide", 1.2, 0.15)])).splitlines()
    explained = [line for line in lines if line.startswith("explanation the user asked for")]
    assert len(explained) == 1 and 'of "Slide": most important moment 1.2 s' in explained[0]
    assert "1.5 s (centre of the frame)" in explained[0] and "12% of the pictures" in explained[0]
    assert not any(line.startswith("explanation") for line in format_evidence(_evidence([])).splitlines())
