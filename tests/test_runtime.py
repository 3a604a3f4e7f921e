"""ONNX Runtime as the answering backend: same evidence, same answers; clear errors when it cannot be.

A data directory with an untrained frozen effnet_frames (32 px, shipped ImageNet backbone) as
the active classifier and a frame index built with ``effnet_lite0@32`` (the same backbone, so
answers take one backbone pass). The run and the encoder are exported by their CLIs, and one
clip is answered under ``--runtime torch`` and ``--runtime onnx``.
"""

import json
import shutil

import numpy as np
import pytest

from assistant.analysis.gather import gather_evidence
from assistant.runtime.active_checkpoint import set_active_checkpoint
from assistant.runtime.resources import Resources
from core.cli import settings_from
from core.errors import ArtifactError
from core.settings import Settings
from indexing.__main__ import main as indexing_main
from indexing.encoders.onnx_encoder import OnnxFrameEncoder, runtime_encoder
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from testkit.assistant_data import write_kb
from testkit.untrained_run import make_untrained_run
from training.__main__ import main as training_main
from training.models.inference import Classifier
from training.runs import checkpoint_path

ENCODER = "effnet_lite0@32"


@pytest.fixture(scope="module")
def data_dir(motion_prepared, tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("runtime")
    settings = Settings(data_dir=root / "var", kb_dir=write_kb(root / "kb"), window_s=2.0, llm_provider="offline")
    run = make_untrained_run(settings.runs_dir / "frozen", motion_prepared, "effnet_frames", freeze_backbone=True)
    set_active_checkpoint(settings, checkpoint_path(run))
    build_frame_index(motion_prepared, settings.index_dir, get_encoder(ENCODER), frames_per_clip=4)
    return settings


def test_onnx_without_an_export_says_what_to_run(data_dir, monkeypatch):
    monkeypatch.setenv("ACTIVITY_RUNTIME", "onnx")
    settings = Settings(data_dir=data_dir.data_dir, kb_dir=data_dir.kb_dir, llm_provider="offline")
    assert settings.runtime == "onnx"
    run = data_dir.runs_dir / "frozen"
    with pytest.raises(
        ArtifactError, match=r"ACTIVITY_RUNTIME=onnx, but the run .* has no ONNX export; export it with"
    ):
        Classifier.from_checkpoint(run, runtime="onnx")
    with pytest.raises(ArtifactError, match=r"has no ONNX export; run `python -m indexing export-encoder --encoder"):
        runtime_encoder(get_encoder(ENCODER), settings)
    # The app and `assistant ask` show both as missing parts with that message instead of answering wrongly.
    resources = Resources.load(settings)
    reasons = {part.name: part.reason for part in resources.missing}
    assert "has no ONNX export" in reasons["classifier"] and "has no ONNX export" in reasons["frame index"]
    # auto without an export: torch, quietly.
    assert Classifier.from_checkpoint(run, runtime="auto").runtime == "torch"


@pytest.fixture(scope="module")
def exported(data_dir, motion_prepared) -> Settings:
    run = data_dir.runs_dir / "frozen"
    assert training_main(["export", str(run), "--parity-clips", "4"]) == 0
    args = ["--data-dir", str(data_dir.data_dir), "export-encoder", "--data", str(motion_prepared)]
    assert indexing_main(args) == 0
    return data_dir


def test_same_evidence_same_answer_under_onnx(exported, query_clips):
    torch_settings = exported.model_copy(update={"runtime": "torch"})
    onnx_settings = exported.model_copy(update={"runtime": "onnx"})
    torch_resources, onnx_resources = Resources.load(torch_settings), Resources.load(onnx_settings)
    assert not onnx_resources.missing
    assert torch_resources.classifier.runtime == "torch" and onnx_resources.classifier.runtime == "onnx fp32"
    assert isinstance(onnx_resources.encoder, OnnxFrameEncoder)
    assert onnx_resources.encoder.spec == torch_resources.encoder.spec  # the index accepts either
    assert onnx_resources.classifier.feature_key == onnx_resources.encoder.feature_key  # still one backbone pass
    for label in ("Fall", "Rotate"):
        by_torch = gather_evidence(query_clips[label], torch_resources, torch_settings)
        by_onnx = gather_evidence(query_clips[label], onnx_resources, onnx_settings)
        assert by_onnx.shared_backbone and by_torch.shared_backbone
        torch_top = [(s.label, s.probability) for s in by_torch.classifier.top_k]
        onnx_top = [(s.label, s.probability) for s in by_onnx.classifier.top_k]
        assert [lbl for lbl, _ in onnx_top] == [lbl for lbl, _ in torch_top]
        assert np.allclose([p for _, p in onnx_top], [p for _, p in torch_top], atol=1e-5)
        assert [n.clip_id for n in by_onnx.retrieval.neighbours] == [n.clip_id for n in by_torch.retrieval.neighbours]
        assert np.allclose(
            [n.score for n in by_onnx.retrieval.neighbours], [n.score for n in by_torch.retrieval.neighbours], atol=1e-4
        )
        assert by_onnx.verdict.label == by_torch.verdict.label


def test_auto_takes_a_current_export_that_agreed_and_ran_faster(exported, tmp_path):
    run = exported.runs_dir / "frozen"
    manifest = json.loads((run / "export" / "export.json").read_text())
    figures = manifest["parity"]
    expected = "onnx fp32" if figures["fp32"]["frames_per_s"] > figures["torch"]["frames_per_s"] else "torch"
    assert Classifier.from_checkpoint(run, runtime="auto").runtime == expected
    torch_encoder = get_encoder(ENCODER)
    encoder = runtime_encoder(torch_encoder, exported.model_copy(update={"runtime": "auto"}))
    measured = OnnxFrameEncoder(runtime_encoder(torch_encoder, exported.model_copy(update={"runtime": "onnx"})).model)
    assert measured.parity["feature_cosine"] > 0.9999
    faster = measured.parity["frames_per_s"] > measured.parity["torch_frames_per_s"]
    assert isinstance(encoder, OnnxFrameEncoder) == faster
    # A retrained checkpoint (any other bytes) makes the export stale: auto falls back, onnx refuses.
    copy = tmp_path / "frozen"
    shutil.copytree(run, copy)
    with (copy / "checkpoint.pt").open("ab") as handle:
        handle.write(b"\0")  # torch.load ignores trailing bytes; the sha256 does not
    assert Classifier.from_checkpoint(copy, runtime="auto").runtime == "torch"
    with pytest.raises(ArtifactError, match="is of an older checkpoint"):
        Classifier.from_checkpoint(copy, runtime="onnx")


def test_runtime_flag_overrides_the_environment(monkeypatch):
    from assistant.__main__ import parser

    monkeypatch.setenv("ACTIVITY_RUNTIME", "onnx")
    args = parser().parse_args(["ask", "clip.mp4", "--runtime", "torch"])
    assert settings_from(args).runtime == "torch"
    assert settings_from(parser().parse_args(["ask", "clip.mp4"])).runtime == "onnx"


def test_feature_store_filled_by_the_onnx_backbone(exported, motion_prepared):
    from training.data.frame_cache import FrameCache
    from training.models.checkpoint import load_classifier
    from training.models.frame_features import model_feature_source

    loaded = load_classifier(checkpoint_path(exported.runs_dir / "frozen"))
    path = next((exported.exports_dir / "encoders").glob("*.onnx"))
    by_torch = model_feature_source(loaded.model, loaded.preprocessing)
    by_onnx = model_feature_source(loaded.model, loaded.preprocessing, path)
    assert by_onnx.key == by_torch.key and by_onnx.dim == by_torch.dim == 1280
    assert by_onnx.raw_features is not by_torch.raw_features
    cache = FrameCache(motion_prepared)
    frames = np.concatenate([cache.load_frames(row.clip_id)[0] for row in cache.rows("train")[:3]])
    a, b = by_torch.raw_features(frames), by_onnx.raw_features(frames)
    assert ((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min() > 0.9999
    # A centre-cropped input has no shareable features: no store, whatever export is offered.
    other = loaded.preprocessing.__class__(**{**loaded.preprocessing.__dict__, "crop_size": 28})
    assert model_feature_source(loaded.model, other, path) is None
