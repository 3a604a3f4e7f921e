"""CLIP loading, the off switch, CLIP as a frame encoder and text-to-clip search (tiny real open_clip model)."""

import json
import logging
import time

import numpy as np
import pytest
import torch
from torch import nn

from core.cli import run_cli
from core.errors import ArtifactError
from core.settings import Settings
from indexing.__main__ import main
from indexing.encoders.backbone import BackboneEncoder
from indexing.encoders.openclip import ClipEncoder, clip_encoder, clip_spec_from_name
from indexing.encoders.openclip_model import ClipSpec, clear_clip_cache, load_clip
from indexing.encoders.openclip_weights import locate_weights
from indexing.frames.frame_index import FrameIndex, FrameRecord, FrameSampling
from indexing.frames.index_builder import cached_clip_frames
from indexing.frames.index_types import choose_index_type
from indexing.frames.text_search import search_text
from testkit.clip_kb import TINY_ENCODER, register_tiny_clip
from testkit.retrieval_data import prepared_shapes
from training.data.frame_cache import FrameCache


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return register_tiny_clip(tmp_path_factory.mktemp("clip_config"))


@pytest.fixture(scope="module")
def encoder(tiny) -> ClipEncoder:
    return clip_encoder(TINY_ENCODER)


@pytest.fixture
def no_weights_anywhere(monkeypatch, tmp_path):
    """No cached weights, HF_HUB_OFFLINE unset, and a hub address that refuses at once (never downloads)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HOME", str(tmp_path))  # open_clip's URL cache is ~/.cache/clip
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    clear_clip_cache()
    yield
    clear_clip_cache()


def test_without_weights_clip_switches_off_fast_with_one_warning(no_weights_anywhere, caplog):
    caplog.set_level(logging.WARNING, logger="indexing.encoders.openclip_model")
    started = time.perf_counter()
    for _ in range(3):
        with pytest.raises(ArtifactError, match="No OpenCLIP weights for ViT-B-32 .*unreachable.*--clip-weights"):
            load_clip(ClipSpec("ViT-B-32", "laion2b_s34b_b79k"))
    assert time.perf_counter() - started < 1.0
    warnings = [r for r in caplog.records if r.name == "indexing.encoders.openclip_model"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert warnings[0].getMessage().startswith("CLIP is off: No OpenCLIP weights for ViT-B-32")


def test_missing_weights_file_is_reported_fast(no_weights_anywhere, tmp_path):
    started = time.perf_counter()
    with pytest.raises(ArtifactError, match="CLIP weights file .*nowhere.bin not found"):
        load_clip(ClipSpec("ViT-B-32", str(tmp_path / "nowhere.bin")))
    assert time.perf_counter() - started < 1.0


def test_a_tag_found_in_the_hub_cache_is_used_without_network(no_weights_anywhere, tmp_path):
    repo = tmp_path / "hub" / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    weights = repo / "snapshots" / "abc123" / "open_clip_model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"placeholder")
    source = locate_weights("ViT-B-32", "laion2b_s34b_b79k")
    assert source.pretrained == str(weights) and source.tag_config["hf_hub"].startswith("laion/")


def test_explicit_weights_file_is_loaded(tiny, tmp_path):
    model = load_clip(ClipSpec(tiny, "random")).model
    state = {key: value.clone() for key, value in model.state_dict().items()}
    state["logit_scale"] = torch.tensor(np.log(50.0), dtype=torch.float32)
    path = tmp_path / "tiny.pt"
    torch.save(state, path)
    loaded = load_clip(ClipSpec(tiny, str(path)))
    assert loaded.logit_scale == pytest.approx(50.0) and loaded.weights == "weights file tiny.pt"
    assert clip_spec_from_name(f"clip:{tiny}", Settings(clip_weights=path)) == ClipSpec(tiny, str(path))
    assert clip_spec_from_name("clip:ViT-B-32:openai") == ClipSpec("ViT-B-32", "openai")


def test_clip_frame_and_text_vectors_are_unit_and_share_a_space(encoder):
    frames = np.random.default_rng(0).integers(0, 256, (5, 48, 40, 3), dtype=np.uint8)
    frames[4] = frames[3]
    vectors = encoder.encode(frames)
    texts = encoder.encode_text(["a person surfing", "a person playing guitar", "a person surfing"])
    assert encoder.name == TINY_ENCODER and encoder.dim == 32
    assert vectors.shape == (5, 32) and vectors.dtype == np.float32 and texts.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[3], vectors[4], atol=1e-6)
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-6)
    assert float(texts[0] @ texts[1]) < 0.999


def test_random_weights_are_the_same_in_every_load(encoder):
    frames = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    before = encoder.encode(frames)
    clear_clip_cache()
    again = clip_encoder(TINY_ENCODER)
    assert again.clip is not encoder.clip and again.spec == encoder.spec
    np.testing.assert_allclose(again.encode(frames), before, atol=1e-6)


@pytest.fixture(scope="module")
def clip_index(encoder, tmp_path_factory):
    """The shapes set indexed through the CLI with ``--encoder clip:Tiny-CLIP-test:random``."""
    prepared = prepared_shapes(tmp_path_factory.getbasetemp() / "shapes")
    root = tmp_path_factory.mktemp("clip_index")
    command = ["frames", "--data", str(prepared), "--index-dir", str(root), "--encoder", TINY_ENCODER]
    assert main([*command, "--frames-per-clip", "4"]) == 0
    return FrameIndex.load(root), prepared


def test_frames_cli_builds_a_clip_index(clip_index):
    index, prepared = clip_index
    assert index.encoder_spec["name"] == TINY_ENCODER and index.manifest["dim"] == 32
    assert len(index.clip_ids()) == len(FrameCache(prepared).rows("train")) and index.sampling.per_clip == 4


def test_text_search_ranks_clips_by_their_best_frame(encoder, clip_index):
    index, prepared = clip_index
    result = search_text(index, "a red disc on a grey background", k=5, encoder=encoder)
    # The same ranking computed directly: best cosine over each indexed clip's frames.
    text = encoder.encode_text(["a red disc on a grey background"])[0]
    cache = FrameCache(prepared)
    best = {row.clip_id: float((encoder.encode(cached_clip_frames(cache, row, 4)[0]) @ text).max())
            for row in cache.rows("train")}  # fmt: skip
    expected = sorted(best, key=lambda clip_id: -best[clip_id])[:5]
    assert [n.clip_id for n in result.neighbours] == expected
    assert [n.score for n in result.neighbours] == pytest.approx([best[c] for c in expected], abs=1e-4)
    assert result.encoder == TINY_ENCODER and sum(result.vote.values()) == pytest.approx(1.0)


def test_search_cli_answers_text_queries(clip_index, capsys):
    capsys.readouterr()
    command = ["search", "--text", "someone riding a wave", "--index-dir", str(clip_index[0].root), "--k", "3"]
    assert main([*command, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["encoder"] == TINY_ENCODER and len(result["neighbours"]) == 3
    expected = search_text(clip_index[0], "someone riding a wave", k=3)
    assert [n["clip_id"] for n in result["neighbours"]] == [n.clip_id for n in expected.neighbours]
    assert main(command) == 0 and "vote:" in capsys.readouterr().out


def test_text_search_refuses_an_index_without_a_text_side(tmp_path, capsys):
    pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # a real encoder of mean colour: no text side
    colour = BackboneEncoder("mean_colour", pool, 3, image_size=8, mean=(0.5,) * 3, std=(0.5,) * 3)
    frames = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    vectors = colour.encode(frames)
    index = FrameIndex.create(tmp_path, colour, choose_index_type("flat", 2), vectors, sampling=FrameSampling(2, 8))
    index.add(vectors, [FrameRecord("c1", "A", "train", "a.avi", t) for t in (0.0, 1.0)])
    index.save()
    with pytest.raises(ArtifactError, match="'mean_colour', which has no text side.*--encoder clip:ViT-B-32"):
        search_text(FrameIndex.load(tmp_path), "a red disc")
    assert run_cli(main, ["search", "--text", "a red disc", "--index-dir", str(tmp_path)]) == 1
    assert "has no text side" in capsys.readouterr().err


def test_text_search_refuses_other_clip_weights(encoder, clip_index, tiny, tmp_path):
    other = ClipEncoder(load_clip(ClipSpec(tiny, str(_saved_weights(encoder, tmp_path)))))
    with pytest.raises(ArtifactError, match="cannot be queried with"):
        search_text(FrameIndex.load(clip_index[0].root), "a red disc", encoder=other)


def _saved_weights(encoder: ClipEncoder, folder) -> str:
    path = folder / "copy.pt"
    torch.save(encoder.clip.model.state_dict(), path)
    return str(path)
