"""How well a clip matches each activity of the library, judged over stretches of the clip, not single frames.

The open-set question ("is this one of my activities?") reads this support. Per frame (each query
frame's best match among an activity's frames, averaged) it is too easy to reach: every frame picks
its own best partner among thousands, so a clip of another activity filmed in a similar place (a
sports hall, a lawn, a pool) finds, frame by frame, some example frame of the floor, the crowd or
the players, and matches a known activity about as well as a new recording of it does. Pooled over
temporal segments (TSN's segmental consensus, Wang et al. 2016, with its ``SEGMENTS`` = 3 equal parts
of the clip, each the mean of its frames' unit vectors) a match must hold over a stretch of the
clip, as a new recording of the activity's does and a look-alike moment does not. On real footage
(``benchmarks/real.py``, every candidate in one run) it turned more clips of other activities into
"unknown" and named the in-class ones as before: docs/benchmarks.md has the table.

Every clip of the library is pooled the same way, once per snapshot (``SegmentLibrary.of``); a
question is then one small exact matrix product (no FAISS search): milliseconds.
"""

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

import numpy as np

from indexing.encoders.base import l2_normalise
from indexing.frames.frame_index import FrameIndex

SEGMENTS = 3
# Enough for any library (UCF101 has ~100 clips per activity): beyond this an activity's clips are sampled.
MAX_CLIPS_PER_LABEL = 1500
SAMPLE_SEED = 0


def segment_means(frames: np.ndarray, segments: int | None = SEGMENTS) -> np.ndarray:
    """(frames in time order, d) unit vectors -> (min(segments, frames), d) unit means of consecutive frames;
    ``segments=None``: the frames themselves (the per-frame support)."""
    frames = np.asarray(frames, dtype=np.float32)
    if segments is None:
        return frames
    return l2_normalise(np.stack([part.mean(axis=0) for part in np.array_split(frames, min(segments, len(frames)))]))


@dataclass(frozen=True)
class SegmentLibrary:
    """Every library clip as its segment vectors, rows grouped by label (each label's best match one ``reduceat``)."""

    segments: int | None
    vectors: np.ndarray  # (rows, d)
    labels: tuple[str, ...]  # sorted
    starts: np.ndarray  # first row of each label
    rows_of_clip: dict[str, list[int]] = field(repr=False)
    # (frames, segments) -> the rows a clip is matched by; another pooling is what benchmarks/real.py compares
    pool: Callable[[np.ndarray, int | None], np.ndarray] = field(default=segment_means, repr=False)

    @classmethod
    def of(cls, index: FrameIndex, segments: int | None = SEGMENTS, pool: Callable = segment_means) -> "SegmentLibrary":
        ids_of_clip: dict[str, list[int]] = defaultdict(list)
        clips_of_label: dict[str, set[str]] = defaultdict(set)
        for vector_id, record in index.records.items():
            ids_of_clip[record.clip_id].append(vector_id)
            clips_of_label[record.label].add(record.clip_id)
        rng = np.random.default_rng(SAMPLE_SEED)
        pooled, labels, starts, rows_of_clip, row = [], [], [], defaultdict(list), 0
        for label in sorted(clips_of_label):
            clips = sorted(clips_of_label[label])
            if len(clips) > MAX_CLIPS_PER_LABEL:
                clips = [clips[i] for i in sorted(rng.choice(len(clips), MAX_CLIPS_PER_LABEL, replace=False))]
            labels.append(label)
            starts.append(row)
            for clip_id in clips:  # vector ids grow in the order a clip's frames were added: its time order
                vectors = pool(index.vectors(sorted(ids_of_clip[clip_id])), segments)
                pooled.append(vectors)
                rows_of_clip[clip_id] = list(range(row, row + len(vectors)))
                row += len(vectors)
        vectors = np.concatenate(pooled) if pooled else np.zeros((0, index.dim), np.float32)
        return cls(segments, vectors, tuple(labels), np.asarray(starts, dtype=np.int64), dict(rows_of_clip), pool)

    def support(self, frames: np.ndarray, leave_out: Collection[str] = ()) -> dict[str, float]:
        """Per label: the mean over the clip's segments of each one's best match among that label's segments.

        ``frames``: the clip's unit frame vectors in time order. ``leave_out``: clip ids to ask as if the
        library did not hold them (a recording left out of its own calibration question).
        """
        if not len(self.vectors) or not len(frames):
            return {}
        similarities = self.pool(frames, self.segments) @ self.vectors.T
        hidden = [row for clip_id in leave_out for row in self.rows_of_clip.get(clip_id, ())]
        similarities[:, hidden] = -np.inf
        best = np.maximum.reduceat(similarities, self.starts, axis=1).mean(axis=0)
        return {
            label: round(float(score), 6) for label, score in zip(self.labels, best, strict=True) if np.isfinite(score)
        }
