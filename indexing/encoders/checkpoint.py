"""The backbone of a trained frame classifier as a frame encoder (``checkpoint:<path>``).

A backbone fine-tuned on the product's own classes usually separates them better than
ImageNet features. The checkpoint's content hash is part of the spec, so an index built with
one training run is never queried with a retrained file saved under the same name.
"""

from pathlib import Path

import numpy as np
import torch

from core.digest import file_sha256
from core.errors import ArtifactError
from indexing.encoders.base import FrameEncoder
from indexing.encoders.family import ENCODER_FAMILIES, EncoderFamily, prefixed

PREFIX = "checkpoint:"


class CheckpointEncoder(FrameEncoder):
    def __init__(self, path: str | Path) -> None:
        from training.models.inference import Classifier  # loaded lazily: only this encoder needs it

        path = Path(path).resolve()
        if not path.is_file():
            raise ArtifactError(f"Checkpoint {path} not found; use --encoder checkpoint:<existing file>.")
        self._classifier = Classifier.from_checkpoint(path)
        self.name = f"{PREFIX}{path}"
        # A one-frame probe gives the feature size and fails early for 3D models.
        size = int(self._classifier.frame_size)
        probe = np.asarray(self._classifier.frame_features(np.zeros((1, size, size, 3), dtype=np.uint8)))
        self.dim = int(probe.shape[1])
        self.preprocessing = (
            f"frame preprocessing of checkpoint {path.name} (model {self._classifier.name}, "
            f"sha256 {file_sha256(path)[:16]})"
        )

    def to(self, device: torch.device) -> "CheckpointEncoder":
        self._classifier.to(device)
        self.device = str(self._classifier.device)
        return self

    def _embed_batch(self, frames: np.ndarray) -> np.ndarray:
        return np.asarray(self._classifier.frame_features(frames), dtype=np.float32)


def _cache_key(name: str) -> tuple:
    path = Path(name[len(PREFIX) :]).resolve()
    stat = path.stat() if path.is_file() else None
    # A retrained checkpoint saved over the old file must not be served from the cache.
    return (str(path), stat and (stat.st_mtime_ns, stat.st_size))


ENCODER_FAMILIES.add(
    "checkpoint",
    EncoderFamily(
        owns=prefixed(PREFIX),
        build=lambda name: CheckpointEncoder(name[len(PREFIX) :]),
        cache_key=_cache_key,
        examples=(f"{PREFIX}<path>",),
    ),
)
