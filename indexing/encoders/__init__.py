"""Frame encoders: ``get_encoder(name).encode(frames)`` -> L2-normalised float32 vectors."""

from indexing.encoders.base import FrameEncoder
from indexing.encoders.registry import ENCODER_NAMES, clear_encoder_cache, get_encoder, resolve_auto

__all__ = ["ENCODER_NAMES", "FrameEncoder", "clear_encoder_cache", "get_encoder", "resolve_auto"]
