"""``python -m training export``: ONNX files that answer like torch, say what they are, and refuse misuse.

Untrained but real checkpoints (a cnn3d, and an effnet_frames with its frozen ImageNet backbone
at 32 px) are exported by the CLI, loaded by ONNX Runtime alone, and compared with torch on
cached clips of the data they name.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from core.errors import ArtifactError
from testkit.untrained_run import make_untrained_run
from training.__main__ import main as training_main
from training.data.frame_cache import FrameCache
from training.models.export_manifest import read_manifest
from training.models.export_metadata import ExportMetadata
from training.models.inference import Classifier
from training.models.onnx_classifier import OnnxClassifier
from training.models.onnx_model import OnnxModel


def _clips(prepared: Path, split: str = "test", count: int = 6) -> np.ndarray:
    cache = FrameCache(prepared)
    return np.stack([np.asarray(cache.load_frames(row.clip_id)[0]) for row in cache.rows(split)[:count]])


@pytest.fixture(scope="module")
def frozen_export(motion_prepared, tmp_path_factory) -> Path:
    run = make_untrained_run(tmp_path_factory.mktemp("frozen"), motion_prepared, "effnet_frames", freeze_backbone=True)
    assert training_main(["export", str(run), "--int8", "--calibration-clips", "4", "--parity-clips", "4"]) == 0
    return run


@pytest.fixture(scope="module")
def cnn3d_export(motion_prepared, tmp_path_factory) -> Path:
    run = make_untrained_run(tmp_path_factory.mktemp("cnn3d"), motion_prepared, "cnn3d", crop_size=28)
    out = run / "elsewhere"
    assert training_main(["export", str(run), "--out", str(out), "--parity-clips", "4"]) == 0
    return run


def test_frozen_backbone_exports_backbone_and_head_that_answer_like_torch(frozen_export, motion_prepared):
    torch_model = Classifier.from_checkpoint(frozen_export)
    exported = OnnxClassifier.from_export(frozen_export / "export", precision="fp32")
    assert sorted(exported.parts) == ["backbone", "head"]
    clips = _clips(motion_prepared)
    assert np.abs(exported.predict_proba(clips) - torch_model.predict_proba(clips)).max() < 1e-5
    frames = clips.reshape(-1, 32, 32, 3)
    features, reference = exported.frame_features(frames), torch_model.frame_features(frames)
    cosine = (features * reference).sum(1) / np.linalg.norm(features, axis=1) / np.linalg.norm(reference, axis=1)
    assert cosine.min() > 0.9999
    per_clip = reference.reshape(len(clips), 8, -1)
    assert np.abs(exported.predict_proba_from_features(per_clip) - torch_model.predict_proba(clips)).max() < 1e-5
    # The feature key is the torch backbone's: the feature store and the one-pass answer keep sharing.
    assert exported.feature_key == torch_model.feature_key is not None


def test_int8_is_small_calibrated_and_measured(frozen_export, motion_prepared):
    manifest = read_manifest(frozen_export / "export")
    assert manifest["serve"] == "int8"
    assert manifest["files"]["int8"] == {"backbone": "backbone.int8.onnx", "head": "head.onnx"}
    assert manifest["bytes"]["int8"] <= 0.30 * manifest["bytes"]["fp32"]
    fp32, int8 = manifest["parity"]["fp32"], manifest["parity"]["int8"]
    assert fp32["top1_agreement"] == 1.0 and fp32["feature_cosine"] > 0.9999 and fp32["passes"]
    assert 0.9 < int8["feature_cosine"] < 0.9999  # quantised: close, not equal
    assert int8["clips"] == 4 and int8["frames_per_s"] > 0 and manifest["parity"]["torch"]["frames_per_s"] > 0
    served = OnnxClassifier.from_export(frozen_export / "export")
    assert served.precision == "int8" and served.feature_key is None  # int8 features are not the torch ones
    assert served.parts["backbone"].metadata.extra["calibration_inputs"] == 4 * 8  # 4 clips x 8 frames
    clips = _clips(motion_prepared)
    probabilities = served.predict_proba(clips)
    assert np.allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert np.abs(probabilities - Classifier.from_checkpoint(frozen_export).predict_proba(clips)).max() < 0.05


def test_whole_model_export_with_its_metadata_round_trip(cnn3d_export, motion_prepared):
    out = cnn3d_export / "elsewhere"
    model = OnnxModel(out / "classifier.onnx", kind="classifier")
    torch_model = Classifier.from_checkpoint(cnn3d_export)
    meta = model.metadata
    assert meta.labels == tuple(torch_model.classes) and meta.model == "cnn3d"
    assert (meta.input_size, meta.decode_size, meta.num_frames) == (28, 32, 8)
    assert meta.mean == torch_model.loaded.preprocessing.mean and meta.std == torch_model.loaded.preprocessing.std
    assert meta.feature_key is None and meta.precision == "fp32"
    assert meta.source_sha256 == read_manifest(out)["checkpoint_sha256"]
    # The record read by ONNX Runtime is the one onnx wrote; and it survives a JSON round trip.
    raw = {p.key: p.value for p in onnx.load(str(out / "classifier.onnx")).metadata_props}
    assert ExportMetadata.from_json(raw["activity_export"]) == meta == ExportMetadata.from_json(meta.to_json())
    clips = _clips(motion_prepared)  # 32 px clips: the export centre-crops them to 28 like torch
    exported = OnnxClassifier.from_export(out)
    assert np.abs(exported.predict_proba(clips) - torch_model.predict_proba(clips)).max() < 1e-5
    with pytest.raises(ArtifactError, match="no separate backbone"):
        exported.frame_features(clips[0])


def test_refuses_corrupt_foreign_mismatched_and_stale_exports(frozen_export, cnn3d_export, tmp_path):
    export = frozen_export / "export"
    with pytest.raises(ArtifactError, match="is a head export, not the backbone"):
        OnnxModel(export / "head.onnx", kind="backbone")
    corrupt = tmp_path / "backbone.onnx"
    corrupt.write_bytes((export / "backbone.onnx").read_bytes()[:100_000])
    with pytest.raises(ArtifactError, match="corrupt or not an ONNX model"):
        OnnxModel(corrupt)
    bare = onnx.load(str(export / "head.onnx"))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(ArtifactError, match="without this project's export record"):
        OnnxModel(tmp_path / "bare.onnx")
    # A file of another run's export dropped into this export folder.
    mixed = tmp_path / "mixed"
    shutil.copytree(export, mixed)
    shutil.copy(cnn3d_export / "elsewhere" / "classifier.onnx", mixed / "head.onnx")
    with pytest.raises(ArtifactError, match="is a classifier export, not the head"):
        OnnxClassifier.from_export(mixed, precision="fp32")
    manifest = json.loads((mixed / "export.json").read_text())
    manifest["checkpoint_sha256"] = "0" * 64
    (mixed / "export.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="exported from another checkpoint"):
        OnnxClassifier.from_export(mixed, precision="int8")
    with pytest.raises(ArtifactError, match="older checkpoint"):
        OnnxClassifier.from_export(export, checkpoint_sha256="f" * 64)
    with pytest.raises(ArtifactError, match="No ONNX export"):
        OnnxClassifier.from_export(tmp_path)
