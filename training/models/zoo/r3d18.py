"""torchvision's R3D-18 (a 3D ResNet), Kinetics-400 weights when available, new final layer."""

from pathlib import Path

from torch import nn
from torchvision.models.video import R3D_18_Weights, r3d_18

from training.models.pretrained import load_into
from training.models.registry import KINETICS_MEAN, KINETICS_STD, register_model

WEIGHTS_URL = R3D_18_Weights.KINETICS400_V1.url


@register_model(
    name="r3d18",
    input_size=112,
    mean=KINETICS_MEAN,
    std=KINETICS_STD,
    frame_model=False,
    description="torchvision R3D-18, Kinetics-400 weights when available",
    weights_url=WEIGHTS_URL,
    saliency_layer="layer4",
)
def build_r3d18(num_classes: int, *, dropout: float = 0.0, weights: Path | None = None) -> nn.Module:
    model = r3d_18(weights=None)
    if weights is not None:
        load_into(model, weights, "r3d18")
    model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(model.fc.in_features, num_classes))
    return model
