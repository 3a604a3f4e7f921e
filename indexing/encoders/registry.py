"""Choose a frame encoder by name; loaded models are cached so each loads once per process.

Names: ``effnet_lite0``, ``resnet50`` (optionally ``@<pixels>`` for another input size and
``+bf16`` for bfloat16 inference, e.g. ``effnet_lite0@160+bf16``), ``checkpoint:<path>``,
``clip:<model>[:<tag or weights file>]`` (e.g. ``clip:ViT-B-32``), or ``auto``. The name an
encoder reports is enough to build it again, which is how an index finds the encoder that must
query it. Each kind of encoder is an ``EncoderFamily`` that its own file registers
(``indexing.encoders.family``).
"""

import logging
from collections.abc import Hashable

from core.errors import ArtifactError
from indexing.encoders.base import FrameEncoder
from indexing.encoders.family import ENCODER_FAMILIES, EncoderFamily
from indexing.encoders.openclip_model import clear_clip_cache
from indexing.encoders.pretrained import weights_available

log = logging.getLogger(__name__)
_cache: dict[Hashable, FrameEncoder] = {}


def encoder_names() -> tuple[str, ...]:
    return ("auto", *(example for family in ENCODER_FAMILIES for example in family.examples))


def resolve_auto() -> str:
    """resnet50 when its weights are on disk, else the offline effnet_lite0; says which."""
    if weights_available("resnet50"):
        log.info("encoder auto -> resnet50 (ImageNet weights found in the torch hub cache)")
        return "resnet50"
    log.warning("encoder auto -> effnet_lite0 (ResNet-50 weights are not in the torch hub cache)")
    return "effnet_lite0"


def _family(name: str) -> EncoderFamily:
    for family in ENCODER_FAMILIES:
        if family.owns(name):
            return family
    raise ArtifactError(f"Unknown encoder {name!r}; choose one of {', '.join(encoder_names())}.")


def get_encoder(name: str = "auto") -> FrameEncoder:
    if name == "auto":
        name = resolve_auto()
    family = _family(name)
    key = (family, family.cache_key(name))
    if key not in _cache:
        _cache[key] = family.build(name)
    return _cache[key]


def clear_encoder_cache() -> None:
    """Drop loaded models (frees memory)."""
    _cache.clear()
    clear_clip_cache()
