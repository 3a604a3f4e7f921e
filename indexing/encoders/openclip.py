"""CLIP's image tower as a frame encoder (``clip:ViT-B-32``), with its text tower alongside.

Its frame vectors live in the same space as CLIP's sentence vectors, so an index built with it
answers text queries ("someone riding a wave") as well as clip queries. The name records the
weights (``clip:ViT-B-32:laion2b_s34b_b79k``, ``clip:ViT-B-32:/path/weights.bin``), so an index
built with one set of weights is never queried with another.
"""

import numpy as np

from core.settings import Settings
from indexing.encoders.backbone import BackboneEncoder
from indexing.encoders.family import ENCODER_FAMILIES, EncoderFamily, prefixed
from indexing.encoders.openclip_model import ClipModel, ClipSpec, clip_spec, load_clip

PREFIX = "clip:"


def clip_spec_from_name(name: str, settings: Settings | None = None) -> ClipSpec:
    """``clip:<model>[:<tag, weights file or random>]``; the weights default to the settings'."""
    return clip_spec(settings or Settings(), name[len(PREFIX) :])


class ClipEncoder(BackboneEncoder):
    """Frames are resized straight to the model's square input: prepared frames are square already."""

    def __init__(self, clip: ClipModel) -> None:
        super().__init__(
            f"{PREFIX}{clip.spec.name}",
            clip.image_tower,
            clip.dim,
            image_size=clip.image_size,
            mean=clip.mean,
            std=clip.std,
        )
        self.clip = clip
        # Only stable facts: where the weights were found (cache or download) must not matter.
        self.preprocessing += f"; OpenCLIP image tower of {clip.spec.name}"

    def encode_text(self, texts: list[str]) -> np.ndarray:
        """Sentences in the frames' vector space: (len(texts), dim), L2-normalised."""
        return self.clip.encode_text(texts)


def clip_encoder(name: str) -> ClipEncoder:
    return ClipEncoder(load_clip(clip_spec_from_name(name)))


ENCODER_FAMILIES.add(
    "openclip",
    EncoderFamily(
        owns=prefixed(PREFIX),
        build=clip_encoder,
        cache_key=clip_spec_from_name,
        examples=(f"{PREFIX}ViT-B-32",),
    ),
)
