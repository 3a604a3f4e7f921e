"""Choose a frame encoder by name; loaded models are cached so each loads once per process.

Names: ``effnet_lite0``, ``resnet50`` (optionally ``@<pixels>`` for another input size and
``+bf16`` for bfloat16 inference, e.g. ``effnet_lite0@160+bf16``), ``checkpoint:<path>``,
``clip:<model>[:<tag or weights file>]`` (e.g. ``clip:ViT-B-32``), or ``auto``. The name an
encoder reports is enough to build it again, which is how an index finds the encoder that must
query it.
"""

import logging
import re
from pathlib import Path

from core.errors import ArtifactError
from indexing.encoders.base import FrameEncoder
from indexing.encoders.checkpoint import PREFIX, CheckpointEncoder
from indexing.encoders.openclip import PREFIX as CLIP_PREFIX
from indexing.encoders.openclip import clip_encoder, clip_spec_from_name
from indexing.encoders.openclip_model import clear_clip_cache
from indexing.encoders.pretrained import ZOO_BACKBONES, pretrained_encoder, weights_available

log = logging.getLogger(__name__)

ENCODER_NAMES: tuple[str, ...] = ("auto", "effnet_lite0", "resnet50", "checkpoint:<path>", "clip:ViT-B-32")
_cache: dict[tuple, FrameEncoder] = {}


def resolve_auto() -> str:
    """resnet50 when its weights are on disk, else the offline effnet_lite0; says which."""
    if weights_available("resnet50"):
        log.info("encoder auto -> resnet50 (ImageNet weights found in the torch hub cache)")
        return "resnet50"
    log.warning("encoder auto -> effnet_lite0 (ResNet-50 weights are not in the torch hub cache)")
    return "effnet_lite0"


def _parse_pretrained(name: str) -> tuple[str, int | None, bool]:
    """``effnet_lite0@160+bf16`` -> ("effnet_lite0", 160, True)."""
    match = re.fullmatch(r"(?P<base>[a-z0-9_]+)(@(?P<size>\d+))?(?P<bf16>\+bf16)?", name)
    if match is None or match["base"] not in ZOO_BACKBONES:
        raise ArtifactError(f"Unknown encoder {name!r}; choose one of {', '.join(ENCODER_NAMES)}.")
    return match["base"], int(match["size"]) if match["size"] else None, bool(match["bf16"])


def _cache_key(name: str) -> tuple:
    if name.startswith(CLIP_PREFIX):
        return (CLIP_PREFIX, clip_spec_from_name(name))
    if name.startswith(PREFIX):
        path = Path(name[len(PREFIX) :]).resolve()
        stat = path.stat() if path.is_file() else None
        # A retrained checkpoint saved over the old file must not be served from the cache.
        return (PREFIX, str(path), stat and (stat.st_mtime_ns, stat.st_size))
    return _parse_pretrained(name)


def get_encoder(name: str = "auto") -> FrameEncoder:
    if name == "auto":
        name = resolve_auto()
    key = _cache_key(name)
    if key not in _cache:
        if name.startswith(PREFIX):
            _cache[key] = CheckpointEncoder(name[len(PREFIX) :])
        elif name.startswith(CLIP_PREFIX):
            _cache[key] = clip_encoder(name)
        else:
            _cache[key] = pretrained_encoder(*_parse_pretrained(name))
    return _cache[key]


def clear_encoder_cache() -> None:
    """Drop loaded models (frees memory)."""
    _cache.clear()
    clear_clip_cache()
