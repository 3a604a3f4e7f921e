"""ResNet-50 applied to every frame (ImageNet weights when available), logits averaged over time."""

from pathlib import Path

from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from training.models.frame_classifier import FrameClassifier, Temporal
from training.models.pretrained import load_into
from training.models.registry import IMAGENET_MEAN, IMAGENET_STD, register_model

WEIGHTS_URL = ResNet50_Weights.IMAGENET1K_V2.url
FEATURE_DIM = 2048


@register_model(
    name="resnet50",
    input_size=224,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    frame_model=True,
    description="ResNet-50 per frame, logits averaged over time, ImageNet weights when available",
    weights_url=WEIGHTS_URL,
    saliency_layer="backbone.layer4",
)
def build_resnet50(
    num_classes: int,
    *,
    temporal: Temporal = "mean",
    dropout: float = 0.2,
    freeze_backbone: bool = False,
    weights: Path | None = None,
) -> nn.Module:
    backbone = resnet50(weights=None)
    if weights is not None:
        load_into(backbone, weights, "resnet50")
    backbone.fc = nn.Identity()
    return FrameClassifier(
        backbone,
        FEATURE_DIM,
        num_classes,
        temporal=temporal,
        dropout=dropout,
        freeze_backbone=freeze_backbone,
    )
