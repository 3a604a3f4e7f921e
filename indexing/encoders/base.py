"""The frame encoder interface: uint8 RGB frames in, L2-normalised float32 vectors out.

Every index records its encoder's ``spec``; vectors from two encoders (or from one encoder
with other preprocessing) are not comparable, so the spec is what a loaded index is checked
against.
"""

from abc import ABC, abstractmethod

import numpy as np

DEFAULT_BATCH_SIZE = 8


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Accept (N, H, W, 3) uint8 RGB frames, the format every decoder in the product returns."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames of shape (N, H, W, 3), got {frames.dtype} {frames.shape}")
    return frames


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit rows, so inner product is cosine similarity (what the FAISS index ranks by)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class FrameEncoder(ABC):
    """Turns frames into comparable vectors; subclasses embed one batch at a time."""

    name: str
    dim: int
    preprocessing: str
    batch_size: int = DEFAULT_BATCH_SIZE
    # Where it runs, as torch names devices ("cpu", "cuda:0"); torch-free encoders run on the CPU.
    device: str = "cpu"
    # The frame size the model reads (frames are resized to it); None when it takes any size.
    image_size: int | None = None

    @property
    def spec(self) -> dict[str, object]:
        """What must match between an index and the encoder that queries it."""
        return {"name": self.name, "dim": self.dim, "preprocessing": self.preprocessing}

    @abstractmethod
    def to(self, device) -> "FrameEncoder":
        """Run on ``device`` (a name or a ``torch.device``) from now on; vectors come back as numpy either way."""

    @abstractmethod
    def _embed_batch(self, frames: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) uint8 -> (n, dim) float features (not yet normalised)."""

    def raw_features(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, dim) float32 features before normalisation; batched to bound memory."""
        frames = check_frames(frames)
        out = np.empty((len(frames), self.dim), dtype=np.float32)
        for start in range(0, len(frames), self.batch_size):
            stop = start + self.batch_size
            out[start:stop] = self._embed_batch(frames[start:stop])
        return out

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, dim) float32, L2-normalised."""
        return l2_normalise(self.raw_features(frames))

    @property
    def feature_key(self) -> str | None:
        """What names this encoder's raw features for sharing (``BackboneEncoder``); None: not shareable."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, dim={self.dim})"
