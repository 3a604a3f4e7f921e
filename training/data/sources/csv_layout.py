"""CSV layout: ``train.csv``, ``val.csv``, ``test.csv`` with a clip path and a label column,
as in the popular Kaggle copy of UCF101. A missing ``val.csv`` is carved from train by groups."""

import csv
from pathlib import Path

from core.errors import DatasetError
from training.data.sources.types import SourceClip
from training.data.splits import LabelledClip, assign_groups, group_of

PATH_COLUMNS = ("clip_path", "path", "video_path", "video", "file", "filename", "clip_name")
LABEL_COLUMNS = ("label", "class", "action", "category")


def _column(header: list[str], candidates: tuple[str, ...], csv_path: Path) -> str:
    lowered = {name.strip().lower(): name for name in header}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise DatasetError(f"{csv_path}: no column among {', '.join(candidates)}; found {', '.join(header)}.")


def _resolve(root: Path, value: str) -> Path:
    value = value.strip().replace("\\", "/")
    for candidate in (root / value.lstrip("/"), Path(value)):
        if candidate.exists():
            return candidate
    return root / value.lstrip("/")


def _read(root: Path, csv_path: Path) -> list[LabelledClip]:
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        path_column = _column(header, PATH_COLUMNS, csv_path)
        label_column = _column(header, LABEL_COLUMNS, csv_path)
        clips = []
        for row in reader:
            path = _resolve(root, row[path_column])
            label = row[label_column].strip()
            clips.append(LabelledClip(str(path), label, f"{label}/{group_of(path.name) or path.stem}"))
    return clips


def load_csv_layout(root: Path, val_fraction: float, seed: int) -> list[SourceClip]:
    if not (root / "train.csv").is_file() or not (root / "test.csv").is_file():
        raise DatasetError(f"{root}: the CSV layout needs train.csv and test.csv.")
    train = _read(root, root / "train.csv")
    test = _read(root, root / "test.csv")
    if (root / "val.csv").is_file():
        val = _read(root, root / "val.csv")
        split_of = {c.path: "train" for c in train}
    else:
        val = []
        split_of = assign_groups(train, {"train": 1 - val_fraction, "val": val_fraction}, seed)
    return (
        [SourceClip(c.path, c.label, split_of[c.path], c.group) for c in train]
        + [SourceClip(c.path, c.label, "val", c.group) for c in val]
        + [SourceClip(c.path, c.label, "test", c.group) for c in test]
    )
