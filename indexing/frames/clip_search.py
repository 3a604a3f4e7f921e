"""Find the indexed clips that look most like a query clip, and let them vote on its label.

Every sampled query frame searches the frame index; a clip's score is its best frame match
(max over query frames and its own frames), so one matching moment is enough to surface it.
"""

import os
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from indexing.encoders.base import FrameEncoder
from indexing.frames.frame_index import FrameHit, FrameIndex
from training.data.splits import group_of
from video.decoding import VideoLimits, decode_video, is_still, load_still

# Below this spread (cosine units) the neighbours' similarities are equal for the vote.
SPREAD_EPS = 1e-6


@dataclass(frozen=True)
class Neighbour:
    clip_id: str
    label: str
    score: float  # cosine similarity of the best matching frame pair
    frame_time_s: float | None  # time of that frame in the indexed clip
    thumbnail: str | None  # path of that frame's JPEG
    source_path: str
    # Clips of the same source group (a UCF101 gNN recording, or the same video) that matched less
    # well: shown as "and N near-copies", never counted again.
    near_copies: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClipSearchResult:
    neighbours: list[Neighbour]  # one per source group, best first
    vote: dict[str, float]  # label -> share, sums to 1 (empty if no neighbours); see ``label_vote``
    encoder: str = ""
    query_times_s: list[float] = field(default_factory=list)
    # label -> how well the query's frames match that label's frames; see ``label_support``
    support: dict[str, float] = field(default_factory=dict)

    @property
    def top_label(self) -> str | None:
        return max(self.vote, key=self.vote.get) if self.vote else None

    @property
    def best_score(self) -> float | None:
        """Similarity of the closest clip: how far the query is from everything in the library."""
        return max((n.score for n in self.neighbours), default=None)


def source_group(label: str, source_path: str) -> str:
    """The recording a clip comes from: its UCF101 group (``_gNN_``) within its label, else its video.

    UCF101 cuts each recording into 4-7 clips that look almost the same; counting them as
    independent neighbours lets a big class's group-mates crowd out everything else.
    """
    group = group_of(Path(source_path).name)
    return f"{label}/g{group}" if group is not None else source_path


def collapse(neighbours: Iterable[Neighbour], k: int) -> list[Neighbour]:
    """The best ``k`` source groups, best first: each as its best clip, the others as its near-copies.

    Takes neighbours already collapsed (e.g. those of several windows) as well as raw ones.
    """
    best: dict[str, Neighbour] = {}
    members: dict[str, set[str]] = defaultdict(set)
    for neighbour in neighbours:
        group = source_group(neighbour.label, neighbour.source_path)
        members[group].update((neighbour.clip_id, *neighbour.near_copies))
        current = best.get(group)
        if current is None or (-neighbour.score, neighbour.clip_id) < (-current.score, current.clip_id):
            best[group] = neighbour
    ranked = sorted(best.items(), key=lambda item: (-item[1].score, item[1].clip_id))[:k]
    return [
        replace(neighbour, near_copies=tuple(sorted(members[group] - {neighbour.clip_id})))
        for group, neighbour in ranked
    ]


def neighbours_from_hits(index: FrameIndex, hits: list[list[FrameHit]], k: int) -> list[Neighbour]:
    """Frame hits to the best ``k`` source groups (see ``collapse``); a clip's score is its best frame pair."""
    best: dict[str, FrameHit] = {}
    for row in hits:
        for hit in row:
            current = best.get(hit.record.clip_id)
            if current is None or hit.score > current.score:
                best[hit.record.clip_id] = hit
    clips = [
        Neighbour(
            clip_id=hit.record.clip_id,
            label=hit.record.label,
            score=round(hit.score, 6),
            frame_time_s=hit.record.frame_time_s,
            thumbnail=str(thumb) if (thumb := index.thumbnail_path(hit.record)) else None,
            source_path=hit.record.source_path,
        )
        for hit in best.values()
    ]
    return collapse(clips, k)


def label_vote(neighbours: Sequence[Neighbour]) -> dict[str, float]:
    """Per-label shares from each label's best match, not from how many neighbours carry the label.

    A head count lets a crowd of near-copies outvote one good example of a rare activity;
    the best match per label cannot be flooded. Shares are a softmax of those best similarities
    in units of the spread of the neighbours' similarities: encoders differ in how similar
    unrelated frames look (cosine ~0.5 for EfficientNet, ~0.8 for CLIP), so a label wins by
    standing out from the other matches, not by an absolute margin. Equal matches share equally.
    """
    if not neighbours:
        return {}
    best: dict[str, float] = {}
    for neighbour in neighbours:
        best[neighbour.label] = max(best.get(neighbour.label, -np.inf), neighbour.score)
    spread = float(np.std([neighbour.score for neighbour in neighbours]))
    top = max(best.values())
    weights = {
        label: float(np.exp((score - top) / spread)) if spread > SPREAD_EPS else float(score == top)
        for label, score in best.items()
    }
    total = sum(weights.values())
    return {label: weight / total for label, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))}


def label_support(hits: Sequence[Sequence[FrameHit]]) -> dict[str, float]:
    """Per label: the mean over query frames of each frame's best match among that label's frames.

    The open-set score ("is this one of my activities?"): a clip of a known activity has most
    of its moments matched by some example of that activity, while a clip of another activity
    may match one frame well (a shared background, a close-up) but not the rest. Unlike the
    vote's shares, it keeps the absolute similarity, so it compares across clips and libraries.
    A label absent from a frame's hit list scores that frame's weakest hit: an upper bound.
    """
    rows = [row for row in hits if row]
    if not rows:
        return {}
    labels = {hit.record.label for row in rows for hit in row}
    per_frame: dict[str, list[float]] = {label: [] for label in labels}
    for row in rows:
        best: dict[str, float] = {}
        for hit in row:
            best[hit.record.label] = max(best.get(hit.record.label, -np.inf), hit.score)
        floor = min(hit.score for hit in row)
        for label in labels:
            per_frame[label].append(best.get(label, floor))
    return {label: round(float(np.mean(scores)), 6) for label, scores in per_frame.items()}


def search_vectors(
    index: FrameIndex,
    vectors: np.ndarray,
    k: int = 10,
    exclude_clips: Collection[str] = (),
    exclude_labels: Collection[str] = (),
) -> ClipSearchResult:
    """``search_clip`` for frames already embedded.

    ``exclude_clips`` keeps a query from finding itself; ``exclude_labels`` searches as if the
    library had never seen those activities (calibration's unseen-class probe).
    """
    # Enough frame hits per query frame that k distinct clips can appear even when each clip's
    # own frames crowd the top of the list; deeper while near-copies collapse them to fewer
    # than k source groups, so a crowd of copies cannot hide the rest of the library.
    depth = (k + len(exclude_clips)) * max(1, index.sampling.per_clip)
    while True:
        hits = index.search(vectors, depth)
        if exclude_clips or exclude_labels:
            hits = [
                [h for h in row if h.record.clip_id not in exclude_clips and h.record.label not in exclude_labels]
                for row in hits
            ]
        neighbours = neighbours_from_hits(index, hits, k)
        if len(neighbours) >= k or depth >= len(index):
            return ClipSearchResult(neighbours, label_vote(neighbours), support=label_support(hits))
        depth *= 4


def search_clip(index: FrameIndex, encoder: FrameEncoder, frames: np.ndarray, k: int = 10) -> ClipSearchResult:
    """Nearest ``k`` clips to uint8 frames (T, H, W, 3) and their similarity-weighted label vote."""
    index.check_encoder(encoder)
    return replace(search_vectors(index, encoder.encode(frames), k), encoder=encoder.name)


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
    return replace(result, query_times_s=[round(float(t), 3) for t in clip.times_s])
