"""Dataset sources: every layout becomes the same list of labelled clips with splits."""

import logging
import os
from pathlib import Path

from core.errors import DatasetError
from training.data.sources.csv_layout import load_csv_layout
from training.data.sources.folder import load_folder
from training.data.sources.types import SourceClip
from training.data.sources.ucf101 import find_split_files, load_ucf101

log = logging.getLogger(__name__)

# The activities of the first release (UCF101 class names); the default filter for UCF101.
DEFAULT_CLASSES = (
    "Swing", "SkyDiving", "FloorGymnastics", "Diving", "Surfing",
    "Basketball", "GolfSwing", "PlayingPiano", "PlayingGuitar", "HorseRace",
)  # fmt: skip
LAYOUTS = ("auto", "ucf101", "folder", "csv")

__all__ = ["DEFAULT_CLASSES", "LAYOUTS", "SourceClip", "detect_layout", "load_source"]


def detect_layout(root: Path, splits_dir: Path | None) -> str:
    if (root / "train.csv").is_file():
        return "csv"
    if find_split_files(splits_dir or root, split_number=1, required=False):
        return "ucf101"
    return "folder"


def load_source(
    root: str | os.PathLike,
    layout: str = "auto",
    *,
    splits_dir: str | os.PathLike | None = None,
    split_number: int = 1,
    classes: list[str] | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> list[SourceClip]:
    """Labelled clips with their split. ``classes=None`` means the layout's default filter:
    the ten first-release classes for UCF101, every class found for the other layouts."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found.")
    splits_path = Path(splits_dir) if splits_dir else None
    if layout == "auto":
        layout = detect_layout(root, splits_path)
        log.info("dataset layout detected: %s", layout)
    if layout == "ucf101":
        wanted = list(classes) if classes else list(DEFAULT_CLASSES)
        clips = load_ucf101(root, splits_path or root, split_number, val_fraction, seed)
    elif layout == "folder":
        wanted = classes
        clips = load_folder(root, val_fraction, test_fraction, seed)
    elif layout == "csv":
        wanted = classes
        clips = load_csv_layout(root, val_fraction, seed)
    else:
        raise DatasetError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}.")
    if wanted:
        missing = sorted(set(wanted) - {c.label for c in clips})
        if missing:
            raise DatasetError(f"{root}: no clips for class(es) {', '.join(missing)}. Check --classes.")
        clips = [c for c in clips if c.label in set(wanted)]
    if not clips:
        raise DatasetError(f"{root}: no video clips found for layout {layout!r}.")
    return clips
