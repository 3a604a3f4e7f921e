"""Zero-shot activity scores: a clip's CLIP image embedding against every KB activity's text.

Every activity in ``kb/`` becomes a class the moment its file exists: its label split into
words ("PlayingGuitar" -> "playing guitar") and its aliases fill a small ensemble of prompts
written for actions; their text embeddings are averaged and re-normalised into one vector per
activity (cached on disk, see ``text_embedding_cache``). A clip is the mean of its sampled
frames' image embeddings; cosine similarity times CLIP's learned logit scale, through a
softmax over the activities, gives probabilities. Single frames carry no motion, so this is
a weaker signal than a trained classifier: the fusion uses it only for activities nothing
else can score.
"""

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from assistant.analysis.retrieval import embed_windows
from assistant.zeroshot.text_cache import CACHE_DIR, TextEmbeddingCache
from indexing.encoders.openclip import ClipEncoder
from indexing.encoders.openclip_model import ClipSpec, load_clip
from indexing.frames.frame_sampling import frame_selection
from indexing.kb.knowledge_base import KbEntry
from video.decoding import Clip

PROMPTS = (
    "a video of a person doing {}.",
    "a photo of a person {}.",
    "a person {}.",
    "a video of {}.",
    "a photo of a person doing {}.",
    "a video frame of a person {}.",
    "a demonstration of {}.",
    "an example of a person {}.",
)
MAX_FRAMES = 8  # frames per clip or window: more adds cost, hardly any accuracy, to a mean embedding


def label_words(label: str) -> str:
    """``PlayingGuitar`` -> ``playing guitar``; ``YoYo`` -> ``yo yo``; ``JumpingJack_2`` -> ``jumping jack 2``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", label)
    return " ".join(re.split(r"[\s_\-]+", spaced)).strip().lower()


def activity_names(entry: KbEntry) -> list[str]:
    """The label in words, then the aliases, without repeats (case-insensitive)."""
    names: dict[str, str] = {}
    for name in (label_words(entry.label), *entry.aliases):
        names.setdefault(name.strip().lower(), name.strip())
    return [name for name in names.values() if name]


def prompts_for(names: list[str]) -> list[str]:
    return [template.format(name) for name in names for template in PROMPTS]


def ensemble(text_vectors: np.ndarray) -> np.ndarray:
    """Mean of unit vectors, back to unit length: one direction for many phrasings."""
    mean = text_vectors.mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def softmax_scores(image_vectors: np.ndarray, text_vectors: np.ndarray, logit_scale: float) -> np.ndarray:
    """(C,) probabilities of C activities for one clip's (N, D) frame vectors."""
    clip_vector = ensemble(np.asarray(image_vectors, dtype=np.float32))
    logits = logit_scale * (np.asarray(text_vectors) @ clip_vector)
    logits = np.exp(logits - logits.max())
    return logits / logits.sum()


class ZeroShotScorer:
    """Scores clips against the KB's activities with one CLIP model; text vectors are cached."""

    def __init__(self, encoder: ClipEncoder, cache_dir: str | Path) -> None:
        self.encoder = encoder
        self.cache = TextEmbeddingCache(cache_dir)

    @classmethod
    def load(cls, spec: ClipSpec, data_dir: str | Path, device: torch.device | None = None) -> "ZeroShotScorer":
        """Frames are embedded on ``device`` (CPU by default; sentences, embedded once and cached, on the CPU).
        Raises ``ArtifactError`` (after one logged warning) when the CLIP weights are not here."""
        return cls(ClipEncoder(load_clip(spec)).to(device or torch.device("cpu")), Path(data_dir) / CACHE_DIR)

    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def weights(self) -> str:
        return self.encoder.clip.weights

    def activity_vector(self, entry: KbEntry) -> np.ndarray:
        """One activity's (D,) unit vector: from memory or disk unless its label or aliases changed."""
        names = activity_names(entry)
        parts = {"model": self.name, "prompts": list(PROMPTS), "label": entry.label, "names": names}
        return self.cache.get(parts, lambda: ensemble(self.encoder.encode_text(prompts_for(names))))

    def text_vectors(self, entries: Mapping[str, KbEntry]) -> tuple[list[str], np.ndarray]:
        """(labels sorted, (C, D) unit vectors), one per KB activity."""
        labels = sorted(entries)
        if not labels:
            return [], np.zeros((0, self.encoder.dim), dtype=np.float32)
        return labels, np.stack([self.activity_vector(entries[label]) for label in labels])

    def score_vectors(self, image_vectors: np.ndarray, entries: Mapping[str, KbEntry]) -> dict[str, float]:
        """label -> probability for frames already embedded with this model."""
        labels, text = self.text_vectors(entries)
        if not labels:
            return {}
        probabilities = softmax_scores(image_vectors, text, self.encoder.clip.logit_scale)
        return {label: float(p) for label, p in zip(labels, probabilities, strict=True)}

    def score(self, frames: np.ndarray, entries: Mapping[str, KbEntry]) -> dict[str, float]:
        """label -> probability for uint8 frames (T, H, W, 3), from up to ``MAX_FRAMES`` of them."""
        return self.score_vectors(self.encoder.encode(frames[frame_selection(len(frames), MAX_FRAMES)]), entries)

    def score_windows(self, windows: Sequence[Clip], entries: Mapping[str, KbEntry]) -> list[dict[str, float]]:
        """One score map per window of a video, from about ``MAX_FRAMES`` frames spread over all of them."""
        return [self.score_vectors(vectors, entries) for vectors in embed_windows(self.encoder, windows, MAX_FRAMES)]
