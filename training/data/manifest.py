"""The manifest: one row per clip (path, label, split, group), shared by every dataset source."""

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from core.atomic import atomic_write_json, atomic_write_text
from core.errors import DatasetError

SPLITS = ("train", "val", "test")
MANIFEST_FILE = "manifest.csv"
CLASSES_FILE = "classes.json"


@dataclass(frozen=True)
class ManifestRow:
    clip_id: str
    path: str
    label: str
    split: str
    group: str
    fps: float | None = None
    duration_s: float | None = None


def write_manifest(prepared_dir: str | os.PathLike, rows: list[ManifestRow]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(ManifestRow)])
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    return atomic_write_text(Path(prepared_dir) / MANIFEST_FILE, buffer.getvalue())


def _optional_float(value: str) -> float | None:
    return float(value) if value not in ("", None) else None


def read_manifest(prepared_dir: str | os.PathLike) -> list[ManifestRow]:
    path = Path(prepared_dir) / MANIFEST_FILE
    if not path.is_file():
        raise DatasetError(
            f"{path} not found. Run `python -m training prepare --source <folder of labelled videos>` first."
        )
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            ManifestRow(
                clip_id=r["clip_id"],
                path=r["path"],
                label=r["label"],
                split=r["split"],
                group=r["group"],
                fps=_optional_float(r.get("fps", "")),
                duration_s=_optional_float(r.get("duration_s", "")),
            )
            for r in csv.DictReader(handle)
        ]


def write_classes(prepared_dir: str | os.PathLike, classes: list[str]) -> Path:
    return atomic_write_json(Path(prepared_dir) / CLASSES_FILE, {"classes": classes})


def read_classes(prepared_dir: str | os.PathLike) -> list[str]:
    path = Path(prepared_dir) / CLASSES_FILE
    if not path.is_file():
        raise DatasetError(
            f"{path} not found. Run `python -m training prepare --source <folder of labelled videos>` first."
        )
    return list(json.loads(path.read_text(encoding="utf-8"))["classes"])
