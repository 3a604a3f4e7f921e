"""A plain folder ``<root>/<Label>/*.{avi,mp4,...}`` split 70/15/15 by whole groups."""

from pathlib import Path

from core.labels import NEGATIVE_FOLDERS, NEGATIVE_LABEL
from training.data.sources.types import VIDEO_SUFFIXES, SourceClip
from training.data.splits import LabelledClip, assign_groups, group_of


def load_folder(root: Path, val_fraction: float, test_fraction: float, seed: int) -> list[SourceClip]:
    clips = []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        # ``_other/`` or ``_background/``: clips of "none of these", filed under one negative label.
        label = NEGATIVE_LABEL if label_dir.name in NEGATIVE_FOLDERS else label_dir.name
        for path in sorted(label_dir.iterdir()):
            if path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith("."):
                # Without a UCF-style group each clip is its own group.
                group = group_of(path.name) or path.stem
                clips.append(LabelledClip(str(path), label, f"{label}/{group}"))
    fractions = {"train": 1 - val_fraction - test_fraction, "test": test_fraction, "val": val_fraction}
    split_of = assign_groups(clips, fractions, seed)
    return [SourceClip(c.path, c.label, split_of[c.path], c.group) for c in clips]
