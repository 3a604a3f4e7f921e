"""Teach the assistant a new activity by example: add labelled clips to the frame index.

No retraining: the clips' frames are embedded with the index's own encoder and appended, so
the next question already finds them among the nearest clips. Together with a KB file for the
label, that is enough to recognise and explain an activity the classifier never saw. With no
library yet, the first clips start one (few-shot mode): one clip of an activity is enough.
Clips of "none of these" (``negative=True``) teach what should be called unknown.
"""

import os
from collections.abc import Sequence

from core.errors import DatasetError
from core.labels import NEGATIVE_LABEL, checked_label
from core.settings import Settings
from indexing.frames.index_builder import add_videos
from video.decoding import VideoLimits


def add_example_clips(
    settings: Settings, paths: Sequence[str | os.PathLike], label: str | None, *, negative: bool = False
) -> list[str]:
    """Append the clips under ``label`` (or as "none of these"); returns their clip ids.

    All or nothing: saved once at the end.
    """
    label = NEGATIVE_LABEL if negative else checked_label(label)
    if not paths:
        raise DatasetError("No clips given: choose one or more labelled example videos.")
    limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
    added, _ = add_videos(settings.index_dir, list(paths), label, limits=limits, new_library_size=settings.frame_size)
    return added
