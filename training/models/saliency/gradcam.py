"""Grad-CAM: where in a clip the evidence for one class sits, read from a model's last conv block.

The class score's gradient, averaged over a feature map, weighs each channel; the weighted sum
of the channels (negative parts clipped) is the heat map. A 3D model (``cnn3d``, ``r3d18``) has
one feature volume per clip, so one set of channel weights and a heat volume over time and
space. A frame model (``resnet50``, ``effnet_frames``) sees each frame alone, so each frame gets
its own weights and map.

The last block's map is coarse (7x7 for a 112 px input, 3x3 for the 28 px test model) and, in
a 3D model, pooled over several frames, so for a moving object it covers the whole path rather
than where the object is in each frame. As in Selvaraju et al.'s Guided Grad-CAM, the upsampled
map is multiplied by a pixel-level signal, here the plain input gradient's magnitude: guided
backpropagation ignores the weights (Adebayo et al.'s model-randomisation test), the plain
gradient does not. The product is class-specific like Grad-CAM and sharp like the gradient.
Temporal shares come from the Grad-CAM volume alone: it is what the decision was pooled from.
"""

import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import ArtifactError

# Blur width of the gradient magnitude: 1 px per 56 px of input on each side (none at 28 px, 5x5 at 112, 9x9 at 224).
_BLUR_DIVISOR = 56


@dataclass(frozen=True)
class ClipSaliency:
    """Grad-CAM of N clips for one class.

    ``heat`` (N, T, H, W) is Grad-CAM times the input gradient's magnitude, scaled to [0, 1] per
    clip so the frames of one clip compare with each other; ``frame_share`` (N, T) is each frame's
    part of its clip's unscaled Grad-CAM (rows sum to 1, uniform when the map is empty);
    ``probabilities`` (N, C) come from the same forward pass.
    """

    heat: np.ndarray
    frame_share: np.ndarray
    probabilities: np.ndarray
    target: int


class _Capture:
    """Keeps the layer's output from the calling thread's forward pass only.

    A served model is shared by request threads; another request's forward pass must not
    replace the activation this one differentiates. When the layer runs more than once per
    pass (a shared activation module), the last call is kept.
    """

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self.activation: torch.Tensor | None = None

    def __call__(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if threading.get_ident() == self.owner:
            self.activation = output


def _layer(model: nn.Module, path: str) -> nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError as exc:
        raise ArtifactError(f"The model has no layer {path!r} to explain; its saliency layer is misnamed.") from exc


def _cam(activation: torch.Tensor, gradient: torch.Tensor, frame_model: bool, clips: int) -> torch.Tensor:
    """(N, T', h, w) maps from an activation and its gradient, laid out per model kind."""
    if frame_model:
        # (N*T, C, h, w): one set of channel weights per frame.
        weights = gradient.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * activation).sum(dim=1))
        return cam.reshape(clips, -1, *cam.shape[-2:])
    # (N, C, t, h, w): one set of channel weights per clip.
    weights = gradient.mean(dim=(2, 3, 4), keepdim=True)
    return F.relu((weights * activation).sum(dim=1))


def _sharpness(pixel_gradient: torch.Tensor) -> torch.Tensor:
    """(N, T, H, W) input-gradient magnitude (largest over colour channels), lightly blurred on
    inputs larger than the test's so single-pixel speckle does not dominate the picture."""
    magnitude = pixel_gradient.abs().amax(dim=1)
    kernel = 2 * round(magnitude.shape[-1] / _BLUR_DIVISOR) + 1
    if kernel == 1:
        return magnitude
    frames = magnitude.reshape(-1, 1, *magnitude.shape[-2:])
    blurred = F.avg_pool2d(frames, kernel, stride=1, padding=kernel // 2, count_include_pad=False)
    return blurred.reshape(magnitude.shape)


def _normalise(volume: torch.Tensor) -> torch.Tensor:
    """Each clip's volume scaled to [0, 1] (all zeros stays zeros)."""
    peak = volume.amax(dim=(1, 2, 3), keepdim=True)
    return volume / torch.where(peak > 0, peak, torch.ones_like(peak))


def grad_cam(
    model: nn.Module, layer_path: str, inputs: torch.Tensor, target: int, *, frame_model: bool
) -> ClipSaliency:
    """Grad-CAM of normalised clips ``inputs`` (N, 3, T, H, W) for class index ``target``.

    The model stays in eval mode (no dropout, frozen batch statistics), so the explained
    probabilities are the ones an answer reports.
    """
    clips, _, steps, height, width = inputs.shape
    capture = _Capture()
    handle = _layer(model, layer_path).register_forward_hook(capture)
    try:
        with torch.enable_grad():
            # An input that asks for gradients also makes frozen (requires_grad=False) backbones pass them on.
            pixels = inputs.detach().clone().requires_grad_(True)
            logits = model(pixels)
            if capture.activation is None:
                raise ArtifactError(f"Layer {layer_path!r} did not run in the forward pass; it cannot be explained.")
            if not 0 <= target < logits.shape[1]:
                raise ArtifactError(f"Class index {target} is outside the model's {logits.shape[1]} classes.")
            gradient, pixel_gradient = torch.autograd.grad(logits[:, target].sum(), [capture.activation, pixels])
    finally:
        handle.remove()
    with torch.no_grad():
        cam = _cam(capture.activation.detach(), gradient, frame_model, clips)
        cam = F.interpolate(cam.unsqueeze(1), size=(steps, height, width), mode="trilinear", align_corners=False)
        cam = cam.squeeze(1).clamp_min(0)
        per_frame = cam.sum(dim=(2, 3))
        totals = per_frame.sum(dim=1, keepdim=True)
        share = torch.where(totals > 0, per_frame / torch.where(totals > 0, totals, 1.0), 1 / steps)
        heat = _normalise(cam * _sharpness(pixel_gradient))
        probabilities = torch.softmax(logits.detach().float(), dim=1)
    return ClipSaliency(
        heat=heat.float().cpu().numpy(),
        frame_share=share.float().cpu().numpy(),
        probabilities=probabilities.cpu().numpy(),
        target=target,
    )
