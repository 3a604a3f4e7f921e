"""Find the indexed clips that look most like a query clip, and let them vote on its label.

Every sampled query frame searches the frame index; a clip's score is its best frame match
(max over query frames and its own frames), so one matching moment is enough to surface it.
"""

import os
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexing.encoders import FrameEncoder
from indexing.frame_index import FrameHit, FrameIndex
from training.video import VideoLimits, decode_video, is_still, load_still


@dataclass(frozen=True)
class Neighbour:
    clip_id: str
    label: str
    score: float  # cosine similarity of the best matching frame pair
    frame_time_s: float | None  # time of that frame in the indexed clip
    thumbnail: str | None  # path of that frame's JPEG
    source_path: str


@dataclass(frozen=True)
class ClipSearchResult:
    neighbours: list[Neighbour]
    vote: dict[str, float]  # label -> similarity-weighted share, sums to 1 (empty if no neighbours)
    encoder: str = ""
    query_times_s: list[float] = field(default_factory=list)

    @property
    def top_label(self) -> str | None:
        return max(self.vote, key=self.vote.get) if self.vote else None


def best_per_clip(index: FrameIndex, hits: list[list[FrameHit]], k: int) -> list[Neighbour]:
    """Collapse frame hits to clips (best score each), best ``k`` clips first."""
    best: dict[str, FrameHit] = {}
    for row in hits:
        for hit in row:
            current = best.get(hit.record.clip_id)
            if current is None or hit.score > current.score:
                best[hit.record.clip_id] = hit
    ranked = sorted(best.values(), key=lambda hit: (-hit.score, hit.record.clip_id))[:k]
    return [
        Neighbour(
            clip_id=hit.record.clip_id,
            label=hit.record.label,
            score=round(hit.score, 6),
            frame_time_s=hit.record.frame_time_s,
            thumbnail=str(thumb) if (thumb := index.thumbnail_path(hit.record)) else None,
            source_path=hit.record.source_path,
        )
        for hit in ranked
    ]


def label_vote(neighbours: list[Neighbour]) -> dict[str, float]:
    """Each neighbour votes for its label with its (non-negative) similarity; shares sum to 1."""
    if not neighbours:
        return {}
    weights: dict[str, float] = defaultdict(float)
    for neighbour in neighbours:
        weights[neighbour.label] += max(neighbour.score, 0.0)
    total = sum(weights.values())
    if total <= 0:  # every match is dissimilar: fall back to counting
        weights = defaultdict(float)
        for neighbour in neighbours:
            weights[neighbour.label] += 1.0
        total = float(len(neighbours))
    return {label: weight / total for label, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))}


def search_vectors(
    index: FrameIndex, vectors: np.ndarray, k: int = 10, exclude_clips: Collection[str] = ()
) -> ClipSearchResult:
    """``search_clip`` for frames already embedded; ``exclude_clips`` keeps a query from finding itself."""
    # Enough frame hits per query frame that k distinct clips can appear even when each
    # clip's own frames crowd the top of the list.
    hits = index.search(vectors, (k + len(exclude_clips)) * max(1, index.sampling.per_clip))
    if exclude_clips:
        hits = [[hit for hit in row if hit.record.clip_id not in exclude_clips] for row in hits]
    neighbours = best_per_clip(index, hits, k)
    return ClipSearchResult(neighbours, label_vote(neighbours))


def search_clip(index: FrameIndex, encoder: FrameEncoder, frames: np.ndarray, k: int = 10) -> ClipSearchResult:
    """Nearest ``k`` clips to uint8 frames (T, H, W, 3) and their similarity-weighted label vote."""
    index.check_encoder(encoder)
    result = search_vectors(index, encoder.encode(frames), k)
    return ClipSearchResult(result.neighbours, result.vote, encoder.name)


def search_video(
    index: FrameIndex,
    encoder: FrameEncoder,
    path: str | os.PathLike,
    k: int = 10,
    *,
    limits: VideoLimits | None = None,
) -> ClipSearchResult:
    """Decode a video (or still image) the way the index sampled its clips, then search."""
    sampling = index.sampling
    if is_still(path):
        clip = load_still(path, sampling.size, keep_aspect=sampling.keep_aspect).clips[0]
    else:
        video = decode_video(
            Path(path), sampling.per_clip, sampling.size, keep_aspect=sampling.keep_aspect, limits=limits
        )
        clip = video.clips[0]
    result = search_clip(index, encoder, clip.frames, k)
    return ClipSearchResult(result.neighbours, result.vote, result.encoder, [round(float(t), 3) for t in clip.times_s])
