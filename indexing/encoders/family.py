"""A kind of frame encoder and the table of them: a file in ``indexing/encoders/`` that defines one
registers it here (``ENCODER_FAMILIES.add``), and ``registry.get_encoder`` asks each which names it owns."""

from collections.abc import Callable, Hashable
from dataclasses import dataclass

from core.errors import ArtifactError
from core.registry import Registry
from indexing.encoders.base import FrameEncoder


@dataclass(frozen=True)
class EncoderFamily:
    """``owns(name)``: whether a name spells an encoder of this family; ``build(name)`` loads it;
    ``cache_key(name)``: equal for two names of one encoder; ``examples``: names shown in help and errors."""

    owns: Callable[[str], bool]
    build: Callable[[str], FrameEncoder]
    cache_key: Callable[[str], Hashable]
    examples: tuple[str, ...]


ENCODER_FAMILIES: Registry[EncoderFamily] = Registry("frame encoder family", "indexing.encoders", ArtifactError)


def prefixed(prefix: str) -> Callable[[str], bool]:
    """``owns`` for a family whose names start with ``prefix`` (``clip:``, ``checkpoint:``)."""
    return lambda name: name.startswith(prefix)
