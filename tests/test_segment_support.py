"""The open-set support judged by temporal segments (``assistant.runtime.segment_support``).

A clip of another activity filmed in the same kind of place (the "sports hall" case) can match a
known activity moment by moment: each of its frames finds some frame of the hall, the crowd, a
player, among the activity's examples. Judged per frame it then looks as much like the activity as
a new recording of it does; judged over stretches of the clip it does not. Vectors stand in for
frame features so that the rule itself is under test: every frame is its place (the scene), the
moment of the activity it shows, and noise.
"""

import numpy as np
import pytest

from assistant.fusion import open_set_score
from assistant.runtime.open_set import applied_floor, calibrate_open_set
from assistant.runtime.segment_support import (
    CHANGES,
    MEANS,
    SEGMENTS,
    SegmentLibrary,
    in_one_space,
    segment_means,
    segments_and_changes,
)
from indexing.encoders.base import l2_normalise
from indexing.frames.frame_index import FrameIndex, FrameRecord, FrameSampling
from indexing.frames.index_types import choose_index_type

DIM = 96
FRAMES = 9
RECORDINGS = 4
ACTIVITIES = ("Basketball", "GolfSwing", "Diving")


class _VectorsEncoder:
    """The identity an index records for its encoder; the vectors are made by the test."""

    dim = DIM
    spec = {"name": "vectors@test", "dim": DIM}


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    return {
        "rng": rng,
        "places": dict(zip(ACTIVITIES, l2_normalise(rng.normal(size=(len(ACTIVITIES), DIM))), strict=True)),
        # Every sport shares some of what its moments show (people, a ball, motion): activities look alike.
        "sport": (sport := l2_normalise(rng.normal(size=(FRAMES, DIM)))),
        "moments": {
            label: l2_normalise(1.5 * sport + l2_normalise(rng.normal(size=(FRAMES, DIM)))) for label in ACTIVITIES
        },
    }


def recording(world, label: str, order: np.ndarray | None = None) -> np.ndarray:
    """The frames of one recording: the activity's place, its moments (in ``order``), fresh noise."""
    moments = world["moments"][label] if order is None else world["moments"][label][order]
    noise = world["rng"].normal(size=(FRAMES, DIM)) / np.sqrt(DIM)
    return l2_normalise(0.3 * world["places"][label] + moments + noise)


@pytest.fixture(scope="module")
def library(world, tmp_path_factory):
    sampling = FrameSampling(per_clip=FRAMES, size=64)
    flat = choose_index_type("flat", 0)
    index = FrameIndex.create(
        tmp_path_factory.mktemp("index"), _VectorsEncoder(), flat, np.zeros((0, DIM)), sampling=sampling
    )
    for label in ACTIVITIES:
        for n in range(RECORDINGS):
            path = f"/videos/{label}/recording{n}.mp4"
            index.add(
                recording(world, label),
                [FrameRecord(f"{label}{n}", label, "train", path, t / 8) for t in range(FRAMES)],
            )
    return index


def look_alike(world) -> np.ndarray:
    """Another activity in the basketball hall: each frame shows some basketball moment, in an order of its own."""
    return recording(world, "Basketball", order=np.array([4, 8, 1, 6, 0, 3, 7, 2, 5]))


def test_segment_means_pool_consecutive_frames_into_unit_vectors():
    frames = l2_normalise(np.eye(6, DIM))
    pooled = segment_means(frames, 3)
    assert pooled.shape == (3, DIM)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(pooled[0, :2], [2**-0.5, 2**-0.5], rtol=1e-6)  # frames 0 and 1
    assert segment_means(frames[:2], 3).shape == (2, DIM)  # never more segments than frames
    np.testing.assert_array_equal(segment_means(frames, None), frames)  # None: the frames themselves


def test_the_changes_between_segments_are_unit_rows_of_their_own_space():
    frames = l2_normalise(np.eye(6, DIM))
    rows, spaces = segments_and_changes(frames)
    np.testing.assert_array_equal(spaces, [MEANS] * 3 + [CHANGES] * 2)
    np.testing.assert_allclose(rows[:3], segment_means(frames, 3))
    np.testing.assert_allclose(rows[3, :4], [-0.5, -0.5, 0.5, 0.5], rtol=1e-6)  # segment 0 -> segment 1
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-6)
    one_frame_rows, one_frame_spaces = segments_and_changes(frames[:1])
    assert one_frame_rows.shape == (1, DIM) and list(one_frame_spaces) == [MEANS]  # nothing changes
    still, still_spaces = segments_and_changes(np.repeat(frames[:1], 6, axis=0))
    np.testing.assert_array_equal(still[still_spaces == CHANGES], 0.0)  # no motion: changes that match nothing


def test_a_look_alike_in_the_same_place_matches_per_frame_as_well_as_a_new_recording_but_not_by_segments(
    world, library
):
    per_frame = SegmentLibrary.of(library, None, in_one_space(segment_means))
    segments = SegmentLibrary.of(library)
    assert segments.segments == SEGMENTS == 3
    new = [recording(world, "Basketball") for _ in range(5)]
    other = look_alike(world)

    def gap(pooled: SegmentLibrary) -> float:
        """How much better new recordings of the activity match it than the look-alike does."""
        return min(pooled.support(clip)["Basketball"] for clip in new) - pooled.support(other)["Basketball"]

    assert gap(per_frame) < 0.05  # frame by frame, the look-alike is as good a match: why it was named
    assert gap(segments) > 0.15  # over stretches of the clip it is not
    support = segments.support(other)
    assert max(support, key=support.get) == "Basketball"  # still the closest activity: the score must decide
    for label in ACTIVITIES:  # new recordings still lead with their own activity
        pooled = segments.support(recording(world, label))
        assert max(pooled, key=pooled.get) == label


def test_the_library_floor_is_measured_with_the_same_pooling(world, library):
    segments = SegmentLibrary.of(library)
    calibration = calibrate_open_set(library, segments)
    assert calibration.recordings == len(ACTIVITIES) * RECORDINGS and applied_floor(calibration) is not None
    for label in ACTIVITIES:  # new recordings of known activities pass it
        support = segments.support(recording(world, label))
        assert open_set_score(support, label) >= applied_floor(calibration), (label, support)


def test_a_left_out_clip_is_not_its_own_match(world, library):
    segments = SegmentLibrary.of(library)
    own = library.vectors(sorted(i for i, r in library.records.items() if r.clip_id == "Basketball0"))
    assert segments.support(own)["Basketball"] == pytest.approx(1.0, abs=1e-5)
    assert segments.support(own, leave_out={"Basketball0"})["Basketball"] < 0.99
    assert "Basketball" not in segments.support(own, leave_out={f"Basketball{n}" for n in range(RECORDINGS)})
