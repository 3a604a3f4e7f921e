"""Read access to a prepared dataset: manifest, class list and the decoded frames of each clip."""

import json
import os
import re
from pathlib import Path

import numpy as np

from core.errors import ArtifactError, DatasetError
from training.data.manifest import ManifestRow, read_classes, read_manifest

CONFIG_FILE = "prepare.json"
FRAMES_DIR = "frames"
TIMES_DIR = "times"


def frames_path(prepared_dir: Path, clip_id: str) -> Path:
    return prepared_dir / FRAMES_DIR / f"{clip_id}.npy"


def times_path(prepared_dir: Path, clip_id: str) -> Path:
    """Each cached frame's time (s), written only for variable-frame-rate clips, whose times
    cannot be rebuilt from fps and duration."""
    return prepared_dir / TIMES_DIR / f"{clip_id}.npy"


def safe_clip_id(name: str) -> str:
    """A file-name-safe id: letters, digits, ``-``, ``_`` and ``.``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "clip"


class FrameCache:
    """Clips decoded once by ``python -m training prepare``, stored as uint8 (K, T, H, W, 3)."""

    def __init__(self, prepared_dir: str | os.PathLike):
        self.root = Path(prepared_dir)
        config_path = self.root / CONFIG_FILE
        if not config_path.is_file():
            raise DatasetError(
                f"{self.root} is not a prepared dataset (no {CONFIG_FILE}). "
                "Run `python -m training prepare --source <videos> --data <dir>` first."
            )
        self.config: dict = json.loads(config_path.read_text(encoding="utf-8"))
        self.classes: list[str] = read_classes(self.root)
        self._rows = read_manifest(self.root)
        self._by_id = {row.clip_id: row for row in self._rows}

    def rows(self, split: str | None = None) -> list[ManifestRow]:
        return [row for row in self._rows if split is None or row.split == split]

    def row(self, clip_id: str) -> ManifestRow:
        try:
            return self._by_id[clip_id]
        except KeyError:
            raise ArtifactError(f"clip {clip_id!r} is not in {self.root}") from None

    def load_times(self, clip_id: str) -> np.ndarray | None:
        """(K*T,) times of a variable-frame-rate clip's cached frames; None for a regular clip."""
        path = times_path(self.root, clip_id)
        return np.load(path) if path.is_file() else None

    def load_frames(self, clip_id: str) -> np.ndarray:
        path = frames_path(self.root, clip_id)
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise ArtifactError(f"{path}: cached frames missing or corrupt ({error}). Re-run prepare.") from error
