"""Models chosen by name everywhere (CLI, checkpoints, UI), with their default preprocessing.

Each model is a file in ``training/models/zoo/`` whose builder carries ``@register_model(...)``.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from core.errors import ArtifactError
from core.registry import Registry
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


MODELS: Registry[ModelSpec] = Registry("model", "training.models.zoo", ArtifactError)


def register_model(**spec: Any) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorates a model's builder in ``training/models/zoo/``: ``@register_model(name=..., input_size=...)``
    with the ``ModelSpec`` fields other than ``builder``."""

    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.add(spec["name"], ModelSpec(builder=builder, **spec))
        return builder

    return add


def model_names() -> tuple[str, ...]:
    return MODELS.names()


def get_spec(name: str) -> ModelSpec:
    return MODELS.get(name)


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
