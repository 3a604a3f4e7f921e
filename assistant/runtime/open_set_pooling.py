"""Which pooling a library's open-set support uses: the changes between segments, unless the library says no.

The changes between a clip's segment means (``segment_support.segments_and_changes``) tell apart
activities filmed in the same place by what moves. Where the motion is incidental (an object
drifting in any direction, a camera panning either way), they only add noise: new recordings of a
known activity then match their own activity's changes no better than another's and fall below
the floor more often. The library itself says which case it is: both floors are set at the same
false-accept budget on its own recordings (``open_set.calibrate_open_set``), so the pooling that
lets more of its known recordings (asked with themselves left out) through is the better one at
that operating point. On a tie, or where the library cannot tell (no activity with two
recordings), the changes are kept: they are the stricter against look-alikes the library cannot
show. The segment means are measured only when the changes rejected some known recording.
"""

import dataclasses
from collections.abc import Callable

from assistant.runtime.open_set import OpenSetCalibration, calibrate_open_set
from assistant.runtime.segment_support import (
    SEGMENTS,
    SegmentLibrary,
    in_one_space,
    segment_means,
    segments_and_changes,
)
from indexing.frames.frame_index import FrameIndex

CHANGES_POOLING = "the segments and the changes between them"


def library_with_floor(
    index: FrameIndex, pool: Callable = segments_and_changes, segments: int | None = SEGMENTS
) -> tuple[SegmentLibrary, OpenSetCalibration]:
    """``index``'s clips pooled by ``pool`` over ``segments``, and the floor measured with that pooling."""
    library = SegmentLibrary.of(index, segments, pool)
    return library, calibrate_open_set(index, library)


def open_set_library(index: FrameIndex) -> tuple[SegmentLibrary, OpenSetCalibration]:
    """``index``'s clips pooled for the open-set support, and the floor measured with that pooling."""
    with_changes, calibration = library_with_floor(index)
    calibration = dataclasses.replace(calibration, pooling=CHANGES_POOLING)
    if not calibration.known_rejected:  # None (nothing to judge by) or 0 (nothing to gain)
        return with_changes, calibration
    means, means_calibration = library_with_floor(index, in_one_space(segment_means))
    if means_calibration.known_rejected is not None and means_calibration.known_rejected < calibration.known_rejected:
        pooling = (
            f"the segment means alone: with the changes between them {calibration.known_rejected:.0%} of the "
            f"library's own recordings fell below"
        )
        return means, dataclasses.replace(means_calibration, pooling=pooling)
    return with_changes, calibration
