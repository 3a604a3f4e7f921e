"""Frame encoders: real EfficientNet-Lite0 weights, small inputs, numbers checked."""

import logging

import numpy as np
import pytest
import torch

from core.cli import run_cli
from core.errors import ArtifactError
from indexing.__main__ import main as indexing_main
from indexing.encoders.pretrained import weights_available
from indexing.encoders.registry import get_encoder
from testkit.retrieval_data import TEST_ENCODER, shape_frames
from training.models.checkpoint import save_checkpoint
from training.models.registry import build_model, get_spec
from video.preprocessing import Preprocessing


@pytest.fixture(scope="module")
def encoder():
    return get_encoder(TEST_ENCODER)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 48, 64, 3), dtype=np.uint8)
    frames[3] = frames[2]  # an exact duplicate must embed identically
    return frames


def test_effnet_vectors_are_unit_float32_of_declared_dim(encoder, frames):
    vectors = encoder.encode(frames)
    assert encoder.dim == 1280 and vectors.shape == (5, 1280) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[2], vectors[3], atol=1e-6)
    assert float(vectors[0] @ vectors[1]) < 0.999  # different images, different vectors


def test_batching_does_not_change_vectors(encoder, frames):
    together = encoder.encode(frames)
    one_by_one = np.concatenate([encoder.encode(frames[i : i + 1]) for i in range(len(frames))])
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)


def test_the_encoder_runs_where_it_is_moved_and_a_missing_gpu_is_named(encoder, frames, tmp_path, capsys):
    on_cpu = encoder.encode(frames)
    assert encoder.to(torch.device("cpu")) is encoder and encoder.device == "cpu"
    np.testing.assert_allclose(encoder.encode(frames), on_cpu, atol=1e-6)
    if torch.cuda.is_available():  # a GPU machine checks the GPU's vectors against the CPU's
        try:
            np.testing.assert_allclose(encoder.to(torch.device("cuda")).encode(frames), on_cpu, atol=2e-3)
        finally:
            encoder.to(torch.device("cpu"))
    else:  # the device is checked before any data is read
        args = ["frames", "--data", str(tmp_path / "none"), "--index-dir", str(tmp_path / "index"), "--device", "cuda"]
        assert run_cli(indexing_main, args) == 1
        assert "no CUDA GPU is available" in capsys.readouterr().err


def test_name_records_input_size_and_is_cached(encoder):
    assert encoder.name == TEST_ENCODER
    assert "96x96" in encoder.preprocessing
    assert get_encoder(TEST_ENCODER) is encoder
    assert get_encoder("effnet_lite0@224").name == "effnet_lite0"  # the default size has the plain name


def test_similar_images_are_closer_than_unrelated_ones(encoder):
    """A shifted, brighter copy of a scene stays nearer to it than a different scene."""
    rng = np.random.default_rng(1)
    scene = shape_frames("RedDisc", rng)[0][..., ::-1]
    variant = np.clip(np.roll(scene, 3, axis=1).astype(int) + 25, 0, 255).astype(np.uint8)
    other = shape_frames("GreenSquare", rng)[0][..., ::-1]
    v = encoder.encode(np.ascontiguousarray(np.stack([scene, variant, other])))
    assert v[0] @ v[1] > v[0] @ v[2] + 0.05


def test_bf16_option_is_named_and_stays_close_to_float32(encoder, frames):
    fast = get_encoder(TEST_ENCODER + "+bf16")
    assert fast.name == "effnet_lite0@96+bf16" and fast.spec != encoder.spec
    cosine = np.sum(fast.encode(frames) * encoder.encode(frames), axis=1)
    assert cosine.min() > 0.99


def test_rejects_wrong_frame_format(encoder):
    with pytest.raises(ValueError, match="uint8"):
        encoder.encode(np.zeros((2, 32, 32, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        encoder.encode(np.zeros((32, 32, 3), dtype=np.uint8))


def test_unknown_encoder_is_refused():
    with pytest.raises(ArtifactError, match="Unknown encoder"):
        get_encoder("vgg16")
    with pytest.raises(ArtifactError, match="Unknown encoder"):
        get_encoder("effnet_lite0@big")


@pytest.mark.skipif(weights_available("resnet50"), reason="ResNet-50 weights are present on this machine")
def test_resnet50_without_weights_fails_fast_and_auto_falls_back(caplog):
    with pytest.raises(ArtifactError, match="torch hub|not on this machine"):
        get_encoder("resnet50")
    with caplog.at_level(logging.INFO):
        chosen = get_encoder("auto")
    assert chosen.name == "effnet_lite0"
    assert [r.message for r in caplog.records if "encoder auto" in r.message] == [
        "encoder auto -> effnet_lite0 (ResNet-50 weights are not in the torch hub cache)"
    ]


def _save_frame_model(path, model_name: str, **model_kwargs):
    """A checkpoint written by the training code itself (no training needed to test loading)."""
    spec = get_spec(model_name)
    model = build_model(model_name, num_classes=2, pretrained="yes" if spec.frame_model else "no", **model_kwargs)
    preprocessing = Preprocessing(num_frames=4, decode_size=64, crop_size=56, mean=spec.mean, std=spec.std)
    save_checkpoint(
        path, model, name=model_name, model_kwargs=model_kwargs, classes=["A", "B"], preprocessing=preprocessing
    )
    return path


def test_checkpoint_encoder_uses_the_trained_backbone(tmp_path, frames):
    path = _save_frame_model(tmp_path / "frames.pt", "effnet_frames", input_size=56)
    encoder = get_encoder(f"checkpoint:{path}")
    vectors = encoder.encode(frames)
    assert encoder.name == f"checkpoint:{path.resolve()}" and encoder.dim == 1280 == vectors.shape[1]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert "sha256" in encoder.preprocessing and encoder.spec != get_encoder(TEST_ENCODER).spec
    assert get_encoder(f"checkpoint:{path}") is encoder  # cached while the file is unchanged


def test_checkpoint_of_a_3d_model_is_not_a_frame_encoder(tmp_path):
    path = _save_frame_model(tmp_path / "cnn3d.pt", "cnn3d", num_frames=8, input_size=56)
    with pytest.raises(ArtifactError, match="not a frame model"):
        get_encoder(f"checkpoint:{path}")
    with pytest.raises(ArtifactError, match="not found"):
        get_encoder(f"checkpoint:{tmp_path / 'missing.pt'}")
