"""Grad-CAM and temporal importance on the synthetic motion data, where the moving bar is the only signal.

The sanity check is Adebayo et al.'s model-randomisation test: a saliency method that points
at the bar for a trained model but keeps pointing there once the weights are random would be
showing edges, not what the model learned.
"""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from core.errors import ArtifactError
from testkit.synthetic import MOTIONS, motion_frames
from training.models.inference import Classifier
from training.models.registry import build_model, get_spec, model_names
from training.models.saliency import explain_clips, grad_cam, importance_curve

# The bar differs from its background by at least 96 levels in every channel; noise stays within 48.
BAR_CONTRAST = 48


def bar_mask(frames: np.ndarray) -> np.ndarray:
    """(N, T, H, W) True where the bar is: far from each frame's median (background) colour."""
    base = np.median(frames.reshape(*frames.shape[:2], -1, 3), axis=2)[:, :, None, None, :]
    return np.abs(frames.astype(np.int16) - base).max(axis=-1) > BAR_CONTRAST


def unseen_clips(per_class: int = 3, seed: int = 4321) -> tuple[np.ndarray, list[str]]:
    """RGB clips (24 frames, 64 px) the model never saw, and their labels."""
    rng = np.random.default_rng(seed)
    labels = [label for label in MOTIONS for _ in range(per_class)]
    clips = np.stack([motion_frames(label, rng)[..., ::-1] for label in labels])
    return np.ascontiguousarray(clips), labels


def bar_concentration(classifier: Classifier, clips: np.ndarray, labels: list[str]) -> float:
    """Mean over clips of (heat mass on the bar) / (bar's share of the pixels): 1 means no preference."""
    ratios = []
    for clip, label in zip(clips, labels, strict=True):
        explained = explain_clips(classifier, clip[None], label)
        mask = bar_mask(explained.frames)
        heat = explained.saliency.heat
        # An empty map (random weights can clip every channel away) prefers nothing: ratio 1.
        ratios.append((heat[mask].sum() / heat.sum()) / mask.mean() if heat.sum() > 0 else 1.0)
    return float(np.mean(ratios))


def randomised(classifier: Classifier) -> Classifier:
    """The same architecture and preprocessing with every layer re-initialised."""
    model = copy.deepcopy(classifier.model)
    torch.manual_seed(0)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return Classifier(dataclasses.replace(classifier.loaded, model=model))


@pytest.fixture(scope="module")
def trained(cnn3d_motion_run) -> Classifier:
    return Classifier.from_checkpoint(cnn3d_motion_run)


def test_heat_falls_on_the_bar_for_the_trained_model_and_not_for_random_weights(trained):
    clips, labels = unseen_clips()
    assert (trained.predict_proba(clips).argmax(axis=1) == [trained.classes.index(x) for x in labels]).mean() >= 0.75
    trained_ratio = bar_concentration(trained, clips, labels)
    random_ratio = bar_concentration(randomised(trained), clips, labels)
    print(f"heat mass on the bar / its area share: trained {trained_ratio:.2f}, randomised {random_ratio:.2f}")
    assert trained_ratio >= 3.0
    assert random_ratio < 1.5
    assert trained_ratio > 2 * random_ratio


@pytest.mark.parametrize("name", model_names())
def test_every_registered_model_gives_a_heat_volume_at_input_size(name):
    spec = get_spec(name)
    kwargs = {"num_frames": 8, "input_size": 32} if name == "cnn3d" else {}
    if spec.frame_model:
        kwargs["freeze_backbone"] = True  # gradients must still reach the frozen backbone's last block
    model = build_model(name, 3, **kwargs).eval()
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 8, 32, 32)
    saliency = grad_cam(model, spec.saliency_layer, inputs, 1, frame_model=spec.frame_model)
    assert saliency.heat.shape == (2, 8, 32, 32)
    assert saliency.heat.min() >= 0 and saliency.heat.max() == pytest.approx(1.0)
    np.testing.assert_allclose(saliency.frame_share.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(saliency.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    with torch.inference_mode():
        expected = torch.softmax(model(inputs), dim=1).numpy()
    np.testing.assert_allclose(saliency.probabilities, expected, rtol=1e-4, atol=1e-6)
    assert all(not p.grad for p in model.parameters() if p.grad is not None)  # weights untouched


def test_a_misnamed_layer_or_class_is_a_readable_error():
    model = build_model("cnn3d", 3, num_frames=8, input_size=32).eval()
    with pytest.raises(ArtifactError, match="no layer 'features.9'"):
        grad_cam(model, "features.9", torch.zeros(1, 3, 8, 32, 32), 0, frame_model=False)
    with pytest.raises(ArtifactError, match="outside the model's 3 classes"):
        grad_cam(model, "features.3.2", torch.zeros(1, 3, 8, 32, 32), 5, frame_model=False)


def test_importance_curve_weighs_windows_by_probability_and_frames_by_their_share():
    times = np.array([[0.0, 1.0, 2.0], [1.5, 2.5, 3.5]])
    share = np.array([[0.1, 0.3, 0.6], [0.6, 0.2, 0.2]])
    curve = importance_curve(times, share, np.array([0.9, 0.1]))
    assert list(curve.times_s) == [0.0, 1.0, 1.5, 2.0, 2.5, 3.5]
    assert curve.peak_s == 2.0 and curve.importance.max() == 1.0
    # 2.0 s is covered by both windows (their interpolated scores are averaged); 2.5 s by the second only.
    peak = (0.6 * 3 * 0.9 + np.interp(2.0, times[1], share[1] * 3 * 0.1)) / 2
    assert curve.importance[4] == pytest.approx(0.2 * 3 * 0.1 / peak)
