"""CLIP text embeddings on disk (``<data>/clip_text_cache/``), keyed by everything that made them.

Encoding a few hundred prompts with ViT-B-32's text tower takes seconds on a CPU, and the
answer is the same until the model or the knowledge base's activities change. The key is a
hash of the model name with its weights, the prompt templates and every activity's label and
aliases, so editing a KB file's front matter, adding or deleting a file, or switching weights
makes a new entry; editing descriptions (which the prompts never use) reuses the old one.
"""

import hashlib
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from training.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

CACHE_DIR = "clip_text_cache"


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:24]


class TextEmbeddingCache:
    """One ``<key>.npz`` per distinct input (labels + vectors), plus an in-memory copy."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._memory: dict[str, np.ndarray] = {}

    def get(self, parts: dict, labels: list[str], compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The (len(labels), D) embeddings for ``parts``; ``compute`` runs only on a miss."""
        key = cache_key(parts)
        if key in self._memory:
            return self._memory[key]
        vectors = self._read(self.root / f"{key}.npz", labels)
        if vectors is None:
            vectors = np.asarray(compute(), dtype=np.float32)
            buffer = io.BytesIO()
            np.savez(buffer, labels=np.asarray(labels), vectors=vectors)
            atomic_write_bytes(self.root / f"{key}.npz", buffer.getvalue())
        self._memory[key] = vectors
        return vectors

    @staticmethod
    def _read(path: Path, labels: list[str]) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                if stored["labels"].tolist() == labels and len(stored["vectors"]) == len(labels):
                    return stored["vectors"].astype(np.float32)
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring unreadable CLIP text cache %s (%s); re-encoding", path, error)
        return None
