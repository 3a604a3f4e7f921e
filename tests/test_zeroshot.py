"""Zero-shot scoring of KB activities with a tiny real open_clip model: prompts, text cache, scores, evaluation."""

import json
import shutil
import time

import numpy as np
import pytest

from assistant.__main__ import main
from assistant.analysis.gather import gather_evidence
from assistant.answering.evidence_text import evidence_summary
from assistant.answering.llm.offline import offline_answer
from assistant.answering.prompt import format_evidence
from assistant.evidence import ClassifierPart, Evidence, VideoSummary, ZeroShotPart
from assistant.fusion import DEFAULT_FUSION, decide, fuse, ranked, with_zero_shot
from assistant.runtime.resources import Resources
from assistant.service import DEFAULT_QUESTION
from assistant.ui.evidence_view import verdict_markdown
from assistant.zeroshot.evaluation import evaluate_zero_shot
from assistant.zeroshot.scorer import PROMPTS, ZeroShotScorer, activity_names, label_words, softmax_scores
from assistant.zeroshot.text_cache import CACHE_DIR
from core.cli import run_cli
from core.settings import Settings
from indexing.encoders.openclip import clip_encoder
from indexing.frames.frame_sampling import frame_selection
from indexing.frames.index_builder import build_frame_index
from indexing.kb.knowledge_base import KbEntry
from testkit.clip_kb import TINY_CLIP, TINY_ENCODER, kb_entries, register_tiny_clip, unit, write_kb_file
from testkit.retrieval_data import SHAPES, prepared_shapes, shape_frames
from testkit.synthetic import write_opencv
from training.data.frame_cache import FrameCache


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    register_tiny_clip(tmp_path_factory.mktemp("clip_config"))
    return clip_encoder(TINY_ENCODER)


class CountingEncoder:
    """Counts texts sent through the real text tower (the expensive step the cache must avoid)."""

    def __init__(self, encoder, monkeypatch):
        self.calls, self.texts = 0, 0
        real = encoder.encode_text

        def counted(texts):
            self.calls += 1
            self.texts += len(texts)
            return real(texts)

        monkeypatch.setattr(encoder, "encode_text", counted)


def test_labels_become_words_and_aliases_join_without_repeats():
    assert label_words("PlayingGuitar") == "playing guitar"
    assert label_words("SkyDiving") == "sky diving"
    assert label_words("YoYo") == "yo yo"
    assert label_words("Basketball") == "basketball"
    assert label_words("TV_Watching-2") == "tv watching 2"
    entry = KbEntry("PlayingGuitar", ("strumming", "Playing Guitar", "guitar"), (), "g.md")
    assert activity_names(entry) == ["playing guitar", "strumming", "guitar"]


def test_text_vectors_are_one_unit_vector_per_activity_and_cached_on_disk(encoder, tmp_path, monkeypatch):
    kb = tmp_path / "kb"
    write_kb_file(kb, "Surfing", ["riding a wave", "surfboarding"])
    write_kb_file(kb, "PlayingGuitar", ["strumming"])
    counter = CountingEncoder(encoder, monkeypatch)
    templates = len(PROMPTS)

    first = ZeroShotScorer(encoder, tmp_path / "data" / CACHE_DIR)
    labels, vectors = first.text_vectors(kb_entries(kb))
    assert labels == ["PlayingGuitar", "Surfing"] and vectors.shape == (2, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (counter.calls, counter.texts) == (2, (2 + 3) * templates)  # one batch per activity
    # The ensemble is the normalised mean of the prompt vectors of the label words and aliases.
    prompts = [template.format(name) for name in ("playing guitar", "strumming") for template in PROMPTS]
    expected = unit(encoder.clip.encode_text(prompts).mean(axis=0))
    np.testing.assert_allclose(vectors[0], expected, atol=1e-5)

    # A new scorer (as in a new process) reads the disk cache: no text-tower call.
    again = ZeroShotScorer(encoder, tmp_path / "data" / CACHE_DIR)
    np.testing.assert_array_equal(again.text_vectors(kb_entries(kb))[1], vectors)
    assert counter.calls == 2 and len(list((tmp_path / "data" / CACHE_DIR).glob("*.npy"))) == 2

    write_kb_file(kb, "Surfing", ["riding a wave", "surfboarding"], text="A longer description, no new names.")
    again.text_vectors(kb_entries(kb))
    assert counter.calls == 2  # descriptions are not in the prompts

    write_kb_file(kb, "Surfing", ["riding a wave", "wave riding"])
    labels, changed = again.text_vectors(kb_entries(kb))
    assert (counter.calls, counter.texts) == (3, (2 + 3 + 3) * templates)  # only the edited activity
    assert not np.allclose(changed[1], vectors[1])
    np.testing.assert_array_equal(changed[0], vectors[0])

    write_kb_file(kb, "Juggling", ["juggling balls"])  # a new KB file alone adds an activity
    labels, grown = again.text_vectors(kb_entries(kb))
    assert counter.calls == 4 and labels == ["Juggling", "PlayingGuitar", "Surfing"] and grown.shape == (3, 32)

    (kb / "juggling.md").unlink()
    write_kb_file(kb, "Surfing", ["riding a wave", "surfboarding"])  # back to what was encoded first
    np.testing.assert_array_equal(
        ZeroShotScorer(encoder, tmp_path / "data" / CACHE_DIR).text_vectors(kb_entries(kb))[1], vectors
    )
    assert counter.calls == 4


def test_softmax_uses_the_mean_frame_direction_and_the_logit_scale():
    text = np.eye(3, dtype=np.float32)
    frames = unit(np.array([[1.0, 0.2, 0.0], [1.0, 0.0, 0.2]], dtype=np.float32))
    clip_vector = unit(frames.mean(axis=0).astype(np.float64))
    expected = np.exp(10 * clip_vector) / np.exp(10 * clip_vector).sum()
    np.testing.assert_allclose(softmax_scores(frames, text, 10.0), expected, rtol=1e-5)
    assert softmax_scores(frames, text, 100.0)[0] > 0.99 and softmax_scores(frames, text, 1.0)[0] < 0.6


def test_scores_are_probabilities_over_the_kb_activities(encoder, tmp_path):
    entries = {label: KbEntry(label, (), (), f"{label}.md") for label in ("Diving", "Surfing", "Swing")}
    scorer = ZeroShotScorer(encoder, tmp_path)
    frames = np.random.default_rng(0).integers(0, 256, (20, 40, 40, 3), dtype=np.uint8)
    scores = scorer.score(frames, entries)
    assert list(scores) == ["Diving", "Surfing", "Swing"] and sum(scores.values()) == pytest.approx(1.0)
    # Up to eight frames spread over the clip, exactly as scoring their vectors directly.
    chosen = frames[frame_selection(20, 8)]
    assert len(chosen) == 8
    _, text = scorer.text_vectors(entries)
    direct = softmax_scores(encoder.encode(chosen), text, encoder.clip.logit_scale)
    np.testing.assert_allclose(list(scores.values()), direct, rtol=1e-5)
    assert scorer.score(frames, {}) == {}


def test_evaluation_reports_top1_top5_and_labels_it_cannot_name(encoder, tmp_path_factory):
    prepared = prepared_shapes(tmp_path_factory.getbasetemp() / "shapes")
    entries = {label: KbEntry(label, (), (), f"{label}.md") for label in sorted(SHAPES) if label != "YellowBar"}
    scorer = ZeroShotScorer(encoder, tmp_path_factory.mktemp("zs_cache"))
    report = evaluate_zero_shot(prepared, scorer, entries, split="test", progress=False)
    test_rows = FrameCache(prepared).rows("test")
    yellow = sum(row.label == "YellowBar" for row in test_rows)
    assert report["num_samples"] == len(test_rows) - yellow and report["unscorable_labels"] == {"YellowBar": yellow}
    assert report["activities"] == sorted(entries) and report["top5"] == 1.0  # three activities only
    assert 0.0 <= report["top1"] <= 1.0 and report["model"] == TINY_ENCODER
    assert sum(c["support"] for c in report["per_class"].values()) == report["num_samples"]


# -- fusion and answers ------------------------------------------------------------------------


def test_zero_shot_scores_only_labels_without_a_class_or_example_clips():
    classifier_and_vote = fuse({"Fall": 0.8, "Slide": 0.2}, {"Fall": 0.5, "Rotate": 0.5}, classifier_weight=0.5)
    zero_shot = {"Fall": 0.05, "Slide": 0.05, "Rotate": 0.1, "Juggle": 0.6, "Swim": 0.2}
    fused, only = with_zero_shot(classifier_and_vote, zero_shot, known={"Fall", "Slide", "Rotate"})
    scores = {item.label: item.probability for item in fused}
    assert only == ["Juggle", "Swim"]
    # Unscored activities keep their zero-shot probability; the rest is shared as before (x 0.2).
    assert scores == pytest.approx({"Juggle": 0.6, "Swim": 0.2, "Fall": 0.13, "Rotate": 0.05, "Slide": 0.02})
    assert [item.label for item in fused] == ["Juggle", "Swim", "Fall", "Rotate", "Slide"]
    assert sum(scores.values()) == pytest.approx(1.0)
    # Zero-shot never re-ranks labels a trained class or example clips can score.
    same, none = with_zero_shot(
        classifier_and_vote, {"Fall": 0.01, "Slide": 0.9, "Rotate": 0.09}, {"Fall", "Slide", "Rotate"}
    )
    assert same == classifier_and_vote and none == []
    assert with_zero_shot(classifier_and_vote, None, set()) == (classifier_and_vote, [])
    # With no classifier and no index, zero-shot alone ranks every KB activity.
    alone, only = with_zero_shot([], {"Juggle": 0.7, "Swim": 0.3}, set())
    assert [(s.label, s.probability) for s in alone] == [("Juggle", 0.7), ("Swim", 0.3)] and only == ["Juggle", "Swim"]


def zero_shot_evidence() -> Evidence:
    fused, only = with_zero_shot(
        fuse({"Fall": 0.7, "Slide": 0.3}, None, 0.5), {"Fall": 0.05, "Slide": 0.05, "Juggle": 0.9}, {"Fall", "Slide"}
    )
    return Evidence(
        source_path="clip.avi",
        media_kind="video",
        video=VideoSummary(fps=12.0, frame_count=24, duration_s=2.0, width=64, height=64),
        classifier=ClassifierPart(
            checkpoint_name="run",
            checkpoint_path="run/checkpoint.pt",
            model="cnn3d",
            top_k=ranked({"Fall": 0.7, "Slide": 0.3}),
        ),
        zero_shot=ZeroShotPart(
            model="clip:ViT-B-32:laion2b_s34b_b79k",
            scores=ranked({"Juggle": 0.9, "Fall": 0.05, "Slide": 0.05}),
            only_labels=only,
        ),
        fused=fused,
        verdict=decide(fused, None, DEFAULT_FUSION),
    )


def test_answers_say_when_a_label_comes_only_from_zero_shot_matching():
    evidence = zero_shot_evidence()
    assert (evidence.verdict.label, evidence.verdict.confidence) == ("Juggle", pytest.approx(0.9))
    answer = "".join(offline_answer(DEFAULT_QUESTION, evidence, [], False))
    assert "### Juggle: a zero-shot match (90%), not confirmed" in answer
    assert "This label comes only from zero-shot matching" in answer
    assert "No trained class and no example clip of Juggle confirm it, so treat it as likely but unconfirmed" in answer
    assert "(`cnn3d`, checkpoint `run`) was not trained on Juggle; its own first choice is Fall (70%)." in answer
    assert "python -m indexing add <videos> --label Juggle" in answer
    prompt = format_evidence(evidence)
    assert "ranked by zero-shot CLIP matching alone" in prompt and '"Juggle"' in prompt.split("alone")[1]
    assert "zero-shot:  Juggle 90%, Fall 5%, Slide 5% [clip:ViT-B-32:laion2b_s34b_b79k; only source for Juggle]" in (
        evidence_summary(evidence)
    )
    assert "zero-shot CLIP matching (clip:ViT-B-32:laion2b_s34b_b79k)" in verdict_markdown(evidence)


# -- gathering evidence: a CLIP frame index of the shapes, their KB files, and one new KB file ----


@pytest.fixture(scope="module")
def shapes_library(encoder, tmp_path_factory):
    """(index dir, query video): the shapes' training clips indexed with the tiny CLIP, plus an unseen clip."""
    prepared = prepared_shapes(tmp_path_factory.getbasetemp() / "shapes")
    root = tmp_path_factory.mktemp("shapes_library")
    build_frame_index(prepared, root / "frame_index", encoder, frames_per_clip=4)
    query = write_opencv(root / "query.avi", shape_frames("RedDisc", np.random.default_rng(99)))
    return root / "frame_index", query


@pytest.fixture
def juggle_settings(tmp_path, shapes_library, monkeypatch):
    """Example clips for the four shapes, their KB files, and kb/juggle.md: no class, no example clips."""
    data, kb = tmp_path / "var", tmp_path / "kb"
    shutil.copytree(shapes_library[0], data / "frame_index")
    for label in SHAPES:
        write_kb_file(kb, label, [label_words(label)])
    write_kb_file(kb, "Juggle", ["juggling balls", "keeping balls in the air"])
    monkeypatch.setenv("ACTIVITY_CLIP_MODEL", TINY_CLIP)
    monkeypatch.setenv("ACTIVITY_CLIP_PRETRAINED", "random")
    return Settings(data_dir=data, kb_dir=kb, llm_provider="offline")


def test_gather_scores_only_the_kb_only_activity_zero_shot(juggle_settings, shapes_library):
    evidence = gather_evidence(shapes_library[1], Resources.load(juggle_settings), juggle_settings)
    part = evidence.zero_shot
    assert part.model == TINY_ENCODER and part.only_labels == ["Juggle"]
    zero_shot = {item.label: item.probability for item in part.scores}
    assert set(zero_shot) == {"Juggle", *SHAPES} and sum(zero_shot.values()) == pytest.approx(1.0)
    # Juggle keeps its zero-shot probability; the shapes keep their retrieval ranking in what is left.
    fused = {item.label: item.probability for item in evidence.fused}
    assert fused["Juggle"] == pytest.approx(zero_shot["Juggle"])
    for item in evidence.retrieval.vote:
        assert fused[item.label] == pytest.approx(item.probability * (1 - zero_shot["Juggle"]))
    assert evidence.retrieval.encoder == TINY_ENCODER  # the index and the scorer share one model
    assert "zero_shot" in evidence.timings_ms and [m.name for m in evidence.missing] == ["classifier"]


def test_without_clip_weights_a_kb_only_activity_is_a_missing_part(juggle_settings, shapes_library, monkeypatch):
    monkeypatch.setenv("ACTIVITY_CLIP_MODEL", "ViT-B-32")
    monkeypatch.delenv("ACTIVITY_CLIP_PRETRAINED")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(juggle_settings.data_dir / "empty_hub"))
    # Settings are read once, when made: these ones see the real ViT-B-32 with its default weights.
    settings = Settings(data_dir=juggle_settings.data_dir, kb_dir=juggle_settings.kb_dir, llm_provider="offline")
    assert (settings.clip_model, settings.clip_pretrained) == ("ViT-B-32", "laion2b_s34b_b79k")
    evidence = gather_evidence(shapes_library[1], Resources.load(settings), settings)
    assert evidence.zero_shot is None and "Juggle" not in evidence.candidate_labels
    assert [m.name for m in evidence.missing] == ["classifier", "zero-shot"]
    assert "No OpenCLIP weights for ViT-B-32" in evidence.missing[1].reason
    assert "ACTIVITY_CLIP_WEIGHTS" in evidence.missing[1].fix
    # Once every KB activity has example clips, CLIP is not needed, so nothing is missing for it.
    (juggle_settings.kb_dir / "juggle.md").unlink()
    evidence = gather_evidence(shapes_library[1], Resources.load(settings), settings)
    assert [m.name for m in evidence.missing] == ["classifier"]


def test_zeroshot_cli_reports_top1_top5_and_stops_fast_without_weights(
    encoder, tmp_path_factory, tmp_path, capsys, monkeypatch
):
    prepared = prepared_shapes(tmp_path_factory.getbasetemp() / "shapes")
    kb = tmp_path / "kb"
    for label in SHAPES:
        write_kb_file(kb, label, [label_words(label)])
    common = ["--data-dir", str(tmp_path / "var"), "--kb-dir", str(kb), "zeroshot", "--data", str(prepared)]
    capsys.readouterr()
    assert main([*common, "--clip-model", TINY_CLIP, "--clip-pretrained", "random"]) == 0
    report = json.loads((tmp_path / "var" / "zeroshot_test.json").read_text())
    assert report["num_samples"] == len(FrameCache(prepared).rows("test")) and report["unscorable_labels"] == {}
    assert f"top-1 {report['top1']:.3f}, top-5 1.000" in capsys.readouterr().out

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_hub"))
    started = time.perf_counter()
    assert run_cli(main, [*common, "--clip-model", "ViT-B-32"]) == 1
    assert time.perf_counter() - started < 1.0
    assert "error: No OpenCLIP weights for ViT-B-32 (laion2b_s34b_b79k)" in capsys.readouterr().err
