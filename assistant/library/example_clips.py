"""Teach the assistant a new activity by example: add labelled clips to the frame index.

No retraining: the clips' frames are embedded with the index's own encoder and appended, so
the next question already finds them among the nearest clips. Together with a KB file for the
label, that is enough to recognise and explain an activity the classifier never saw.
"""

import os
from collections.abc import Sequence

from core.errors import ArtifactError, DatasetError
from core.labels import checked_label
from core.settings import Settings
from indexing.frame_index import MANIFEST_FILE
from indexing.index_builder import add_videos
from video.decoding import VideoLimits


def add_example_clips(settings: Settings, paths: Sequence[str | os.PathLike], label: str) -> list[str]:
    """Append the clips under ``label``; returns their clip ids. All or nothing: saved once at the end."""
    label = checked_label(label)
    if not paths:
        raise DatasetError("No clips given: choose one or more labelled example videos.")
    if not (settings.index_dir / MANIFEST_FILE).is_file():
        raise ArtifactError(
            f"There is no frame index in {settings.index_dir} to add examples to yet. Build one first: "
            f"`python -m assistant setup --source <folder of labelled clips>` (or `python -m indexing frames`)."
        )
    limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
    added, _ = add_videos(settings.index_dir, list(paths), label, limits=limits)
    return added
