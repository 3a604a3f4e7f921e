"""Which frames of a clip are embedded: one rule for the index builder and for queries.

A query must be sampled the way the index sampled its clips, or their frames are not
comparable; keeping the rule in its own module lets query-time code use it without depending
on the index builder.
"""

import numpy as np

from video.frame_plan import sample_indices


def frame_selection(total: int, per_clip: int) -> np.ndarray:
    """Indices of ``per_clip`` frames spread evenly over ``total`` cached frames (no repeats)."""
    return np.unique(sample_indices(0, total, min(per_clip, total)))
