"""The unknown floor: how clearly a clip must match an activity's examples to be named as it.

"Is this one of my activities?" is answered by the open-set score of the leading activity: its
support (``segment_support``: how well stretches of the clip match that activity's clips) plus its
lead over the next activity's support (how much better it matches this activity than any
other). Support alone says "looks like something in the library"; the lead adds "and like this
activity in particular": a clip of an activity the library does not hold tends to match two or
three activities about equally, while a new recording of a known one, even filmed somewhere else
(which lowers every similarity), still matches its own activity best by a clear step.

The floor is measured on the library itself, one recording at a time, never on near-copies:
each recording is asked with its own activity (and the "none of these" examples) left out, and
its best remaining activity's score is what a clip of an activity the library does not hold
reaches. The floor is the conformal ``1 - false_accept`` quantile of those scores: such a clip
passes with probability at most ``false_accept``. With fewer than ``1 / false_accept - 1`` such
scores it is their maximum, the strictest choice the evidence allows, and the guarantee weakens
to ``1 / (n + 1)`` (a library of 3 activities and 4 recordings: 20 %); the answer says so and
how to tighten it (``false_accept_bound``). Each recording asked with all of its clips left out (a
UCF101 ``gNN`` group or one source video is one recording) gives the score a *new recording* of
a known activity reaches; the share below the floor is reported as the expected rate of
needless "unknown". No constant is tuned to a dataset. The floor is measured again whenever the
library changes (every snapshot load): about 1.2 s on 2 idle cores for a UCF101-10-sized index (at most
``MAX_RECORDINGS`` recordings are asked).
"""

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from assistant.fusion import open_set_score
from assistant.runtime.segment_support import SegmentLibrary
from core.labels import is_negative
from indexing.frames.clip_search import source_group
from indexing.frames.frame_index import FrameIndex

FALSE_ACCEPT = 0.1
MAX_RECORDINGS = 120
SAMPLE_SEED = 0
FLOOR_STEP = 0.005
# A floor rejecting more than this share of new recordings of known activities is not informative.
MAX_KNOWN_REJECTED = 0.5


@dataclass(frozen=True)
class Recording:
    label: str
    clip_ids: tuple[str, ...]


@dataclass(frozen=True)
class OpenSetCalibration:
    floor: float | None  # the open-set score a clip's leading activity must reach
    known: tuple[float, ...]  # scores of recordings of known activities asked with themselves left out
    impostor: tuple[float, ...]  # best scores of recordings asked with their own activity left out
    recordings: int
    false_accept: float
    pooling: str | None = None  # how the support pooled clips, where ``open_set_pooling`` chose it

    @property
    def false_accept_bound(self) -> float:
        """The share of clips of activities outside the library that may reach the floor, as its impostor scores
        guarantee (``false_accept`` when there are enough of them, more when the floor is their maximum)."""
        return conformal_bound(len(self.impostor), self.false_accept)

    @property
    def guarantee_weakened(self) -> bool:
        """Too few impostor scores for the aimed ``false_accept``: the floor is their maximum."""
        return self.false_accept_bound > self.false_accept

    @property
    def known_rejected(self) -> float | None:
        """Expected share of new recordings of known activities called unknown by the floor."""
        if self.floor is None or not self.known:
            return None
        return float(np.mean([score < self.floor for score in self.known]))

    def describe(self) -> str:
        if self.floor is None:
            return "no open-set floor: the library holds too few activities to measure one"
        if applied_floor(self) is None:
            return (
                f"open-set floor not applied: it would call {self.known_rejected:.0%} of {len(self.known)} new "
                "recordings of known activities unknown (their frames do not tell the activities apart)"
            )
        pooling = f"; support over {self.pooling}" if self.pooling else ""
        guarantee = f"at most {self.false_accept_bound:.0%} of clips of activities outside the library reach it"
        if self.guarantee_weakened:
            guarantee += (
                f", not {self.false_accept:.0%}: only {len(self.impostor)} recordings asked as another activity "
                "measured it; examples of more activities, or of none of these, tighten it"
            )
        text = (
            f"open-set floor {self.floor:.3f} (support + lead over the next activity{pooling}), from "
            f"{self.recordings} recordings each asked with itself left out ({guarantee})"
        )
        if self.known_rejected is not None:
            text += f"; {self.known_rejected:.0%} of {len(self.known)} new recordings of known activities fall below"
        return text


def weak_floor_note(calibration: OpenSetCalibration) -> str | None:
    """What an answer's notes say when the library cannot keep clips of other activities from being named as
    often as aimed: no floor at all, or one whose impostor scores are too few for its guarantee."""
    more = (
        "add example clips of more activities, or clips of none of these (the Library tab, or "
        "`python -m indexing add --negative VIDEO`), for a stronger unknown"
    )
    if calibration.floor is None:
        return (
            "The library holds too few activities to measure an open-set floor: clips of other activities are "
            f"named; {more}."
        )
    if applied_floor(calibration) is not None and calibration.guarantee_weakened:
        return (
            f"This library can only promise that at most {calibration.false_accept_bound:.0%} of clips of activities "
            f"it does not hold are named ({calibration.false_accept:.0%} is aimed at: {len(calibration.impostor)} "
            f"recordings measured its open-set floor); {more}."
        )
    return None


def library_recordings(index: FrameIndex) -> list[Recording]:
    """The library's recordings (source groups), each with its label and clips, in a stable order."""
    clips: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in index.records.values():
        clips[(record.label, source_group(record.label, record.source_path))].add(record.clip_id)
    return [Recording(label, tuple(sorted(ids))) for (label, _), ids in sorted(clips.items())]


def _sample(items: list, limit: int) -> list:
    if len(items) <= limit:
        return items
    chosen = np.random.default_rng(SAMPLE_SEED).choice(len(items), size=limit, replace=False)
    return [items[i] for i in sorted(chosen)]


def library_scores(index: FrameIndex, library: SegmentLibrary) -> tuple[list[float], list[float], int]:
    """(known, impostor) open-set scores of the library's recordings asked with themselves left out.

    Supports are exact (``SegmentLibrary.support``: one matrix product per recording, each label's best
    match one ``maximum.reduceat``); FAISS searches would be crowded by a left-out recording's own
    frames and dig through the index.
    """
    recordings = library_recordings(index)
    positive = {r.label for r in recordings if not is_negative(r.label)}
    recordings_of: dict[str, int] = defaultdict(int)
    for recording in recordings:
        recordings_of[recording.label] += 1
    ids_of_clip: dict[str, list[int]] = defaultdict(list)
    for vector_id, record in index.records.items():
        ids_of_clip[record.clip_id].append(vector_id)
    known, impostor = [], []
    asked = _sample(recordings, MAX_RECORDINGS)
    for recording in asked:
        query = index.vectors(sorted(ids_of_clip[recording.clip_ids[0]])).astype(np.float32)
        support = library.support(query, leave_out=set(recording.clip_ids))
        others = {label: support[label] for label in positive - {recording.label} if label in support}
        if len(others) > 1:
            impostor.append(open_set_score(others, max(others, key=others.__getitem__)))
        if recording.label in positive and recordings_of[recording.label] > 1 and others:
            known.append(open_set_score({**others, recording.label: support[recording.label]}, recording.label))
    return known, impostor, len(asked)


def conformal_rank(count: int, false_accept: float) -> int:
    """The rank (1-based, ascending) of the conformal ``1 - false_accept`` quantile among ``count`` values."""
    return min(count, math.ceil((1 - false_accept) * (count + 1)))


def conformal_upper(values: list[float], false_accept: float) -> float | None:
    """The value a new draw exceeds with probability at most ``false_accept`` (their maximum when few)."""
    if not values:
        return None
    return sorted(values)[conformal_rank(len(values), false_accept) - 1]


def conformal_bound(count: int, false_accept: float) -> float:
    """The probability that a new exchangeable draw exceeds the ``conformal_upper`` of ``count`` values: at most
    ``false_accept``, or ``1 / (count + 1)`` when that value is their maximum (1 with none)."""
    return 1.0 - conformal_rank(count, false_accept) / (count + 1)


def calibrate_open_set(
    index: FrameIndex, library: SegmentLibrary | None = None, false_accept: float = FALSE_ACCEPT
) -> OpenSetCalibration:
    """The floor of ``index``'s library; ``library``: its clips pooled as answers pool theirs (built if not given)."""
    known, impostor, asked = library_scores(index, library or SegmentLibrary.of(index))
    upper = conformal_upper(impostor, false_accept)
    return OpenSetCalibration(
        floor=None if upper is None else math.ceil(upper / FLOOR_STEP) * FLOOR_STEP,
        known=tuple(known),
        impostor=tuple(impostor),
        recordings=asked,
        false_accept=false_accept,
    )


def applied_floor(calibration: OpenSetCalibration) -> float | None:
    """The floor answers are judged by, or None when the library's frames cannot tell its activities apart.

    Where the library can measure it (activities with two or more recordings), a floor that
    would call most new recordings of known activities unknown says the frames do not separate
    these activities (they differ by motion, say): then it is not applied, and a trained
    classifier's confidence alone decides.
    """
    rejected = calibration.known_rejected
    return calibration.floor if rejected is None or rejected <= MAX_KNOWN_REJECTED else None
