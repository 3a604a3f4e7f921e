"""UCF101 layout ``<root>/<Class>/v_<Class>_gNN_cMM.avi`` with the official split lists.

Validation is carved from the training list by whole group numbers, chosen once for all classes
(as the official splits do with groups 1-7 for testing), so no recording spans two splits.
"""

from pathlib import Path

import numpy as np

from core.errors import DatasetError
from training.data.sources.types import SourceClip
from training.data.splits import group_of


def find_split_files(directory: Path, split_number: int, required: bool = True) -> dict[str, Path] | None:
    names = {"train": f"trainlist0{split_number}.txt", "test": f"testlist0{split_number}.txt"}
    for folder in (directory, directory / "ucfTrainTestlist"):
        files = {split: folder / name for split, name in names.items()}
        if all(p.is_file() for p in files.values()):
            return files
    if required:
        raise DatasetError(
            f"{directory}: official split files {names['train']} and {names['test']} not found. "
            "Pass --splits pointing at the folder from UCF101TrainTestSplits-RecognitionTask.zip."
        )
    return None


def _list_entries(path: Path) -> list[str]:
    # splitlines() handles the CRLF line ends of the published files.
    return [line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _clip(root: Path, entry: str, split: str) -> SourceClip:
    relative = entry.replace("\\", "/")
    label, _, name = relative.partition("/")
    group = group_of(name)
    if not label or group is None:
        raise DatasetError(f"unexpected UCF101 list entry {entry!r}: expected Class/v_Class_gNN_cMM.avi")
    return SourceClip(str(root / relative), label, split, f"{label}/g{group}")


def load_ucf101(root: Path, splits_dir: Path, split_number: int, val_fraction: float, seed: int) -> list[SourceClip]:
    files = find_split_files(splits_dir, split_number)
    train = [_clip(root, e, "train") for e in _list_entries(files["train"])]
    test = [_clip(root, e, "test") for e in _list_entries(files["test"])]
    numbers = sorted({c.group.rsplit("/g", 1)[1] for c in train})
    rng = np.random.default_rng(seed)
    count = max(1, round(val_fraction * len(numbers))) if val_fraction > 0 else 0
    val_numbers = set(rng.choice(numbers, size=count, replace=False)) if count else set()
    train = [
        SourceClip(c.path, c.label, "val", c.group) if c.group.rsplit("/g", 1)[1] in val_numbers else c for c in train
    ]
    return train + test
