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
