"""CLIP text embeddings on disk (``<data>/clip_text_cache/``), keyed by everything that made them.

Encoding an activity's few dozen prompts with ViT-B-32's text tower takes a while on a CPU,
and the result only changes with the model or with the words the prompts use. Each activity
is cached on its own, under a hash of the model name with its weights, the prompt templates,
and the activity's label and aliases: editing one KB file's front matter or adding a file
re-encodes that activity only; editing descriptions (which prompts never use) re-encodes nothing.
"""

import hashlib
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_DIR = "clip_text_cache"


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:24]


class TextEmbeddingCache:
    """One ``<key>.npy`` per distinct input, plus an in-memory copy."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._memory: dict[str, np.ndarray] = {}

    def get(self, parts: dict, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The array made from ``parts``; ``compute`` runs only when neither memory nor disk has it."""
        key = cache_key(parts)
        if key not in self._memory:
            path = self.root / f"{key}.npy"
            vectors = self._read(path)
            if vectors is None:
                vectors = np.asarray(compute(), dtype=np.float32)
                buffer = io.BytesIO()
                np.save(buffer, vectors)
                atomic_write_bytes(path, buffer.getvalue())
            self._memory[key] = vectors
        return self._memory[key]

    @staticmethod
    def _read(path: Path) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as error:
            log.warning("ignoring unreadable CLIP text cache %s (%s); re-encoding", path, error)
            return None
