"""Retrieval for the windows of one video: embed each distinct frame once, search, vote.

Overlapping windows share frames (the second half of one window is the first half of the
next), so frames are embedded by their index in the video, not per window: a 10 s video in
four overlapping windows costs about as much as two. Embedding and searching are separate
steps so their times can be reported separately. Collapsing frame hits into clips and voting
reuse ``indexing.clip_search``, so a window's result is exactly what ``search_clip`` returns.
"""

from collections.abc import Collection, Sequence

import numpy as np

from assistant.step_timer import StepTimer
from indexing.clip_search import ClipSearchResult, Neighbour, best_per_clip, label_vote
from indexing.encoders import FrameEncoder
from indexing.frame_index import FrameIndex
from indexing.index_builder import frame_selection
from training.video import Clip


def query_frames(clip: Clip, per_clip: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices in the video, frames) of the ``per_clip`` frames a window is searched with."""
    chosen = frame_selection(len(clip.frames), per_clip)
    return clip.frame_indices[chosen], clip.frames[chosen]


def search_vectors(
    index: FrameIndex, vectors: np.ndarray, k: int, exclude_clips: Collection[str] = ()
) -> ClipSearchResult:
    """``search_clip`` for vectors already embedded; ``exclude_clips`` keeps a query from finding itself."""
    per_clip = max(1, index.sampling.per_clip)
    hits = index.search(vectors, (k + len(exclude_clips)) * per_clip)
    if exclude_clips:
        hits = [[hit for hit in row if hit.record.clip_id not in exclude_clips] for row in hits]
    neighbours = best_per_clip(index, hits, k)
    return ClipSearchResult(neighbours, label_vote(neighbours))


def search_windows(
    index: FrameIndex, encoder: FrameEncoder, windows: Sequence[Clip], k: int, timer: StepTimer
) -> list[ClipSearchResult]:
    """One search result per window; distinct frames are embedded in a single batch."""
    index.check_encoder(encoder)
    per_window = [query_frames(window, index.sampling.per_clip) for window in windows]
    frames_by_index: dict[int, np.ndarray] = {}
    for indices, frames in per_window:
        frames_by_index.update((int(i), frame) for i, frame in zip(indices, frames, strict=True))
    order = sorted(frames_by_index)
    with timer.step("embed"):
        vectors = encoder.encode(np.stack([frames_by_index[i] for i in order]))
    row_of = {frame_index: row for row, frame_index in enumerate(order)}
    with timer.step("search"):
        return [search_vectors(index, vectors[[row_of[int(i)] for i in indices]], k) for indices, _ in per_window]


def merge_results(results: Sequence[ClipSearchResult], k: int) -> tuple[list[Neighbour], dict[str, float]]:
    """A whole video's neighbours (best score per clip over all windows) and its mean window vote."""
    best: dict[str, Neighbour] = {}
    for result in results:
        for neighbour in result.neighbours:
            if neighbour.clip_id not in best or neighbour.score > best[neighbour.clip_id].score:
                best[neighbour.clip_id] = neighbour
    neighbours = sorted(best.values(), key=lambda n: (-n.score, n.clip_id))[:k]
    vote: dict[str, float] = {}
    for result in results:
        for label, share in result.vote.items():
            vote[label] = vote.get(label, 0.0) + share / len(results)
    return neighbours, vote
