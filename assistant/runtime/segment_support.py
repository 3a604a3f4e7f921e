"""How well a clip matches each activity of the library, judged over stretches of the clip, not single frames.

The open-set question ("is this one of my activities?") reads this support. Per frame (each query
frame's best match among an activity's frames, averaged) it is too easy to reach: every frame picks
its own best partner among thousands, so a clip of another activity filmed in a similar place (a
sports hall, a lawn, a pool) finds, frame by frame, some example frame of the floor, the crowd or
the players, and matches a known activity about as well as a new recording of it does. Pooled over
temporal segments (TSN's segmental consensus, Wang et al. 2016, with its ``SEGMENTS`` = 3 equal parts
of the clip, each the mean of its frames' unit vectors) a match must hold over a stretch of the
clip, as a new recording of the activity's does and a look-alike moment does not.

The segment means still mostly see the place: another activity in the same hall matches every one
of them. So each clip also carries the *changes* between its consecutive segment means (unit
vectors): what moved, with the static scene subtracted out. A change is only ever compared with a
change (``segments_and_changes``), so an activity with the hall but another motion, or the same
poses in another order, no longer matches. On real footage (``benchmarks/real.py``, every
candidate in one run; the table in docs/assistant.md) the changes turned 3 more of 24 clips of
other activities into "unknown" than the segment means alone did; on the synthetic hall
(``tests/test_sports_hall.py``) they separate the look-alike the means cannot. Where a library's motion is
incidental they only add noise: ``open_set_pooling`` then falls back to the means alone.

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


# What a pooling makes of a clip: (rows, d) unit vectors and the space of each row; a row is only
# compared with the library's rows of its own space (the similarity across spaces is 0).
Pooled = tuple[np.ndarray, np.ndarray]
MEANS, CHANGES = 0, 1


def segments_and_changes(frames: np.ndarray, segments: int | None = SEGMENTS) -> Pooled:
    """The segment means, then the change from each segment to the next (a unit vector) in a space of its own,
    so that a change is only compared with a change. A clip of one segment has no change; a clip that does not
    move has zero changes (they match nothing)."""
    means = segment_means(frames, segments)
    changes = l2_normalise(np.diff(means, axis=0))
    spaces = np.repeat(np.array([MEANS, CHANGES], np.int8), [len(means), len(changes)])
    return np.concatenate([means, changes]), spaces


def in_one_space(pool: Callable[[np.ndarray, int | None], np.ndarray]) -> Callable[[np.ndarray, int | None], Pooled]:
    """A pooling that makes only rows of one space (``segment_means``: the segment means alone)."""

    def pooled(frames: np.ndarray, segments: int | None) -> Pooled:
        rows = pool(frames, segments)
        return rows, np.full(len(rows), MEANS, np.int8)

    return pooled


@dataclass(frozen=True)
class SegmentLibrary:
    """Every library clip as its pooled rows, grouped by label (each label's best match one ``reduceat``)."""

    segments: int | None
    vectors: np.ndarray  # (rows, d)
    spaces: np.ndarray  # (rows,): the space of each row (``Pooled``)
    labels: tuple[str, ...]  # sorted
    starts: np.ndarray  # first row of each label
    rows_of_clip: dict[str, list[int]] = field(repr=False)
    # (frames, segments) -> the rows a clip is matched by; another pooling is what benchmarks/real.py compares
    pool: Callable[[np.ndarray, int | None], Pooled] = field(default=segments_and_changes, repr=False)

    @classmethod
    def of(
        cls, index: FrameIndex, segments: int | None = SEGMENTS, pool: Callable = segments_and_changes
    ) -> "SegmentLibrary":
        ids_of_clip: dict[str, list[int]] = defaultdict(list)
        clips_of_label: dict[str, set[str]] = defaultdict(set)
        for vector_id, record in index.records.items():
            ids_of_clip[record.clip_id].append(vector_id)
            clips_of_label[record.label].add(record.clip_id)
        rng = np.random.default_rng(SAMPLE_SEED)
        pooled, spaces, labels, starts, rows_of_clip, row = [], [], [], [], defaultdict(list), 0
        for label in sorted(clips_of_label):
            clips = sorted(clips_of_label[label])
            if len(clips) > MAX_CLIPS_PER_LABEL:
                clips = [clips[i] for i in sorted(rng.choice(len(clips), MAX_CLIPS_PER_LABEL, replace=False))]
            labels.append(label)
            starts.append(row)
            for clip_id in clips:  # vector ids grow in the order a clip's frames were added: its time order
                vectors, space = pool(index.vectors(sorted(ids_of_clip[clip_id])), segments)
                pooled.append(vectors)
                spaces.append(space)
                rows_of_clip[clip_id] = list(range(row, row + len(vectors)))
                row += len(vectors)
        vectors = np.concatenate(pooled) if pooled else np.zeros((0, index.dim), np.float32)
        spaces = np.concatenate(spaces) if spaces else np.zeros(0, np.int8)
        starts = np.asarray(starts, dtype=np.int64)
        return cls(segments, vectors, spaces, tuple(labels), starts, dict(rows_of_clip), pool)

    def support(self, frames: np.ndarray, leave_out: Collection[str] = ()) -> dict[str, float]:
        """Per label: the mean over the clip's rows of each one's best match among that label's rows of its space.

        ``frames``: the clip's unit frame vectors in time order. ``leave_out``: clip ids to ask as if the
        library did not hold them (a recording left out of its own calibration question).
        """
        if not len(self.vectors) or not len(frames):
            return {}
        rows, spaces = self.pool(frames, self.segments)
        similarities = rows @ self.vectors.T
        similarities[spaces[:, None] != self.spaces[None, :]] = 0.0
        hidden = [row for clip_id in leave_out for row in self.rows_of_clip.get(clip_id, ())]
        similarities[:, hidden] = -np.inf
        best = np.maximum.reduceat(similarities, self.starts, axis=1).mean(axis=0)
        return {
            label: round(float(score), 6) for label, score in zip(self.labels, best, strict=True) if np.isfinite(score)
        }
