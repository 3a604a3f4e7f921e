"""What every dataset source yields."""

from dataclasses import dataclass

VIDEO_SUFFIXES = (
    ".avi",
    ".mp4",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".gif",
    ".3gp",
    ".ts",
    ".mts",
    ".wmv",
    ".flv",
    ".ogv",
)


@dataclass(frozen=True)
class SourceClip:
    path: str
    label: str
    split: str
    group: str
