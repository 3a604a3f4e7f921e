"""Retrieval for the windows of one video: embed each distinct frame once, search, vote.

A whole video is searched with about as many frames as the index took per clip, spread over
its windows (a short clip is one window and uses them all). Overlapping windows share frames
(the second half of one window is the first half of the next), so frames are embedded by
their index in the video, once: a 10 s video in four windows embeds 5 frames, not 32.
Embedding and searching are separate steps so their times are reported separately.
Collapsing frame hits into source groups and voting reuse ``indexing.clip_search``, so a
window's result is what ``search_clip`` returns for its frames, and the whole video's
neighbours are collapsed by the same rule.
"""

import math
from collections.abc import Sequence

import numpy as np

from assistant.analysis.step_timer import StepTimer
from indexing.clip_search import ClipSearchResult, collapse, search_vectors
from indexing.encoders import FrameEncoder
from indexing.frame_index import FrameIndex
from indexing.frame_sampling import frame_selection
from training.video import Clip


def query_frames(clip: Clip, per_clip: int) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices in the video, frames) of the ``per_clip`` frames a window is searched with."""
    chosen = frame_selection(len(clip.frames), per_clip)
    return clip.frame_indices[chosen], clip.frames[chosen]


def embed_windows(encoder: FrameEncoder, windows: Sequence[Clip], frames_per_video: int) -> list[np.ndarray]:
    """Vectors of about ``frames_per_video`` frames spread over the windows, one array per window.

    Each distinct frame is embedded once, all in a single batch.
    """
    frames_per_window = max(1, math.ceil(frames_per_video / len(windows)))
    per_window = [query_frames(window, frames_per_window) for window in windows]
    frames_by_index: dict[int, np.ndarray] = {}
    for indices, frames in per_window:
        frames_by_index.update((int(i), frame) for i, frame in zip(indices, frames, strict=True))
    order = sorted(frames_by_index)
    vectors = encoder.encode(np.stack([frames_by_index[i] for i in order]))
    row_of = {frame_index: row for row, frame_index in enumerate(order)}
    return [vectors[[row_of[int(i)] for i in indices]] for indices, _ in per_window]


def search_windows(
    index: FrameIndex, encoder: FrameEncoder, windows: Sequence[Clip], k: int, timer: StepTimer
) -> list[ClipSearchResult]:
    """One search result per window, from about as many frames as the index took per clip."""
    index.check_encoder(encoder)
    with timer.step("embed"):
        per_window = embed_windows(encoder, windows, index.sampling.per_clip)
    with timer.step("search"):
        return [search_vectors(index, vectors, k) for vectors in per_window]


def merge_results(results: Sequence[ClipSearchResult], k: int) -> ClipSearchResult:
    """A whole video's result: the windows' neighbours collapsed again (best per source group), mean vote."""
    neighbours = collapse((n for result in results for n in result.neighbours), k)
    vote: dict[str, float] = {}
    for result in results:
        for label, share in result.vote.items():
            vote[label] = vote.get(label, 0.0) + share / len(results)
    return ClipSearchResult(neighbours, vote)
