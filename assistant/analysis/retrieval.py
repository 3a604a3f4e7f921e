"""Retrieval for the windows of one video: embed each distinct frame once, search, vote.

A whole video is searched with about as many frames as the index took per clip, spread over
its windows (a short clip is one window and uses them all). Overlapping windows share frames
(the second half of one window is the first half of the next), so frames are embedded by
their index in the video, once: a 10 s video in four windows embeds 5 frames, not 32.
Embedding and searching are separate steps so their times are reported separately; when the
classifier shares the encoder's backbone, the features come from that one pass instead
(``assistant.analysis.shared_backbone``) and there is no embed step.
Collapsing frame hits into source groups and voting reuse ``indexing.frames.clip_search``, so a
window's result is what ``search_clip`` returns for its frames, and the whole video's
neighbours are collapsed by the same rule.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.analysis.step_timer import StepTimer
from indexing.encoders.base import FrameEncoder, l2_normalise
from indexing.frames.clip_search import ClipSearchResult, collapse, search_vectors
from indexing.frames.frame_index import FrameIndex
from indexing.frames.frame_sampling import frame_selection
from video.decoding import Clip


def query_frames(clip: Clip, per_clip: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices in the video, frames) of the ``per_clip`` frames a window is searched with."""
    chosen = frame_selection(len(clip.frames), per_clip)
    return clip.frame_indices[chosen], clip.frames[chosen]


@dataclass(frozen=True)
class FrameFeatures:
    """Vectors of a video's distinct frames, addressed by frame index in the video."""

    row_of: dict[int, int]
    vectors: np.ndarray

    def of(self, frame_indices: np.ndarray) -> np.ndarray:
        return self.vectors[[self.row_of[int(i)] for i in frame_indices]]


def features_of_frames(
    compute: Callable[[np.ndarray], np.ndarray], selections: Iterable[tuple[np.ndarray, np.ndarray]]
) -> FrameFeatures:
    """``compute`` run once over the distinct frames of (frame indices in the video, frames) selections.

    Overlapping windows hold the same video frames; addressing them by frame index means no
    frame is computed twice, in a single batch.
    """
    frames_by_index: dict[int, np.ndarray] = {}
    for indices, frames in selections:
        frames_by_index.update((int(i), frame) for i, frame in zip(indices, frames, strict=True))
    order = sorted(frames_by_index)
    vectors = compute(np.stack([frames_by_index[i] for i in order]))
    return FrameFeatures({frame_index: row for row, frame_index in enumerate(order)}, vectors)


def query_selections(windows: Sequence[Clip], frames_per_video: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame indices, frames) each window is searched with: about ``frames_per_video`` in all."""
    frames_per_window = max(1, math.ceil(frames_per_video / len(windows)))
    return [query_frames(window, frames_per_window) for window in windows]


def embed_windows(encoder: FrameEncoder, windows: Sequence[Clip], frames_per_video: int) -> list[np.ndarray]:
    """Vectors of about ``frames_per_video`` frames spread over the windows, one array per window."""
    per_window = query_selections(windows, frames_per_video)
    vectors = features_of_frames(encoder.encode, per_window)
    return [vectors.of(indices) for indices, _ in per_window]


def search_windows(
    index: FrameIndex,
    encoder: FrameEncoder,
    windows: Sequence[Clip],
    k: int,
    timer: StepTimer,
    features: FrameFeatures | None = None,
) -> tuple[list[ClipSearchResult], list[np.ndarray]]:
    """(one search result per window, the unit vectors each window searched with), from about as many
    frames as the index took per clip.

    ``features``: the encoder's raw features of the windows' frames, already computed by the
    shared backbone pass (``assistant.analysis.shared_backbone``); the embed step is then skipped.
    """
    index.check_encoder(encoder)
    if features is None:
        with timer.step("embed"):
            per_window = embed_windows(encoder, windows, index.sampling.per_clip)
    else:
        selections = query_selections(windows, index.sampling.per_clip)
        per_window = [l2_normalise(features.of(indices)) for indices, _ in selections]
    with timer.step("search"):
        return [search_vectors(index, vectors, k) for vectors in per_window], per_window


def merge_results(results: Sequence[ClipSearchResult], k: int) -> ClipSearchResult:
    """A whole video's result: the windows' neighbours collapsed again (best per source group) and their
    mean vote. (The open-set support is the video's own, ``window_analysis.open_set_supports``.)"""
    neighbours = collapse((n for result in results for n in result.neighbours), k)
    vote: dict[str, float] = {}
    for result in results:
        for label, share in result.vote.items():
            vote[label] = vote.get(label, 0.0) + share / len(results)
    return ClipSearchResult(neighbours, vote)
