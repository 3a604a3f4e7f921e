"""The model zoo: every model builds, learns (gradients flow) and survives a checkpoint round trip."""

import logging

import numpy as np
import pytest
import torch

from core.errors import ArtifactError
from training.models.checkpoint import load_checkpoint, load_classifier, save_checkpoint
from training.models.inference import Classifier
from training.models.pretrained import _download, resolve_weights
from training.models.registry import build_model, get_spec, model_names
from training.models.zoo.cnn3d import flatten_size
from training.models.zoo.effnet_frames import shipped_weights_path
from video.preprocessing import Preprocessing

T, SIZE, CLASSES = 8, 32, ["Fall", "Oscillate", "Rotate"]


def small_kwargs(name: str) -> dict:
    return get_spec(name).constructor_kwargs(num_frames=T, input_size=SIZE)


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path, monkeypatch):
    """Point torch hub at an empty folder so 'auto' can only find weights that ship in packages."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield
    torch.hub.set_dir(previous)


@pytest.mark.parametrize("name", model_names())
def test_model_trains_and_round_trips_through_a_checkpoint(name, tmp_path):
    torch.manual_seed(0)
    kwargs = small_kwargs(name)
    model = build_model(name, len(CLASSES), **kwargs)
    steps = T if name == "cnn3d" else 2  # the big 2D/3D ResNets cost seconds per frame on a CPU
    clips = torch.randn(2, 3, steps, SIZE, SIZE)

    logits = model(clips)
    assert logits.shape == (2, len(CLASSES))
    logits.logsumexp(1).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0

    spec = get_spec(name)
    preprocessing = Preprocessing(T, SIZE, SIZE, spec.mean, spec.std)
    path = save_checkpoint(
        tmp_path / "c.pt", model, name=name, model_kwargs=kwargs, classes=CLASSES, preprocessing=preprocessing
    )
    raw = torch.load(path, weights_only=True)  # plain types and tensors only
    assert raw["model"] == {"name": name, "kwargs": kwargs} and raw["classes"] == CLASSES

    loaded = load_classifier(path)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.model(clips), model(clips))
    assert loaded.preprocessing == preprocessing and loaded.is_frame_model == spec.frame_model


def test_cnn3d_has_the_specified_shape():
    model = build_model("cnn3d", 10)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv3d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    assert all(c.kernel_size == (3, 3, 3) for c in convs)
    pools = [m.kernel_size for m in model.modules() if isinstance(m, torch.nn.MaxPool3d)]
    assert pools == [(1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]
    assert flatten_size(16, 112) == 256 * 2 * 7 * 7
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(256 * 2 * 7 * 7, 512), (512, 10)]
    with pytest.raises(ValueError, match="at least 8 frames"):
        build_model("cnn3d", 10, num_frames=4)


def test_frozen_backbone_trains_only_the_head_and_keeps_batchnorm_statistics():
    model = build_model("effnet_frames", 3, pretrained="auto", freeze_backbone=True, temporal="conv", input_size=32)
    assert model.pretrained_weights == str(shipped_weights_path())
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"temporal", "head"}
    model.train()
    assert not model.backbone.training and model.head.training
    frames = torch.randn(5, 3, 32, 32)
    assert model.frame_features(frames).shape == (5, 1280)


def test_auto_without_weights_trains_from_scratch_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        model = build_model("resnet50", 3, pretrained="auto")
    assert model.pretrained_weights is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "training from scratch" in warnings[0].getMessage()


def test_pretrained_requests_that_cannot_be_met_fail_clearly(tmp_path):
    with pytest.raises(ArtifactError, match="(?i)no pretrained weights"):
        build_model("cnn3d", 3, pretrained="yes")
    with pytest.raises(ArtifactError, match="does not exist"):
        build_model("r3d18", 3, pretrained="auto", weights_file=tmp_path / "missing.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save(build_model("cnn3d", 3).state_dict(), wrong)
    with pytest.raises(ArtifactError, match="does not fit"):
        build_model("r3d18", 3, pretrained="yes", weights_file=wrong)
    # 'yes' may download; an unreachable server fails fast with an actionable error.
    with pytest.raises(ArtifactError, match="--weights-file"):
        _download("http://127.0.0.1:9/r3d_18.pth", tmp_path / "r3d_18.pth")
    assert resolve_weights("resnet50", "no", tmp_path / "x.pth", "http://127.0.0.1:9/x.pth") is None


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", None], ids=["empty", "garbage", "missing"])
def test_corrupt_or_missing_checkpoint_is_an_artifact_error(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ArtifactError, match="checkpoint"):
        load_checkpoint(path)


def test_checkpoint_with_other_classes_is_refused(tmp_path):
    spec = get_spec("cnn3d")
    path = save_checkpoint(
        tmp_path / "c.pt",
        build_model("cnn3d", 3, **small_kwargs("cnn3d")),
        name="cnn3d",
        model_kwargs=small_kwargs("cnn3d"),
        classes=CLASSES,
        preprocessing=Preprocessing(T, SIZE, SIZE, spec.mean, spec.std),
    )
    with pytest.raises(ArtifactError, match=r"only in checkpoint: \['Rotate'\]; only in data: \['Slide'\]"):
        load_classifier(path, expected_classes=["Fall", "Oscillate", "Slide"])
    with pytest.raises(ArtifactError, match="different order"):
        load_classifier(path, expected_classes=["Oscillate", "Fall", "Rotate"])


def test_classifier_preprocesses_any_clip_size_and_exposes_frame_features(tmp_path):
    spec = get_spec("effnet_frames")
    kwargs = small_kwargs("effnet_frames")
    path = save_checkpoint(
        tmp_path / "c.pt",
        build_model("effnet_frames", 3, **kwargs),
        name="effnet_frames",
        model_kwargs=kwargs,
        classes=CLASSES,
        preprocessing=Preprocessing(4, 40, SIZE, spec.mean, spec.std),
    )
    classifier = Classifier.from_checkpoint(path)
    assert (classifier.name, classifier.classes, classifier.num_frames, classifier.frame_size) == (
        "effnet_frames",
        CLASSES,
        4,
        40,
    )
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (2, 10, 60, 80, 3), dtype=np.uint8)  # other length and size
    probs = classifier.predict_proba(clips)
    assert probs.shape == (2, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert classifier.clips_to_tensor(clips).shape == (2, 3, 4, SIZE, SIZE)
    features = classifier.frame_features(clips[0])
    assert features.shape == (10, 1280) and np.isfinite(features).all()

    cnn = save_checkpoint(
        tmp_path / "cnn.pt",
        build_model("cnn3d", 3, **small_kwargs("cnn3d")),
        name="cnn3d",
        model_kwargs=small_kwargs("cnn3d"),
        classes=CLASSES,
        preprocessing=Preprocessing(T, SIZE, SIZE, spec.mean, spec.std),
    )
    with pytest.raises(ArtifactError, match="not a frame model"):
        Classifier.from_checkpoint(cnn).frame_features(clips[0])
