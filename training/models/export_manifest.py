"""The export folder's manifest: which ONNX files make up the model, per precision, and how they measured.

Written last, after every file it names (``core.atomic``), so a folder whose export was
interrupted still describes the previous complete export or none. It records the checkpoint's
sha256: the runtime refuses an export of a checkpoint that has since been retrained.
"""

import json
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_json
from core.errors import ArtifactError

EXPORT_DIR = "export"
MANIFEST_FILE = "export.json"
FORMAT = "activity-export"
FORMAT_VERSION = 1


def default_export_dir(run_dir: Path) -> Path:
    return Path(run_dir) / EXPORT_DIR


def write_manifest(export_dir: Path, record: dict[str, Any]) -> Path:
    return atomic_write_json(export_dir / MANIFEST_FILE, {"format": FORMAT, "format_version": FORMAT_VERSION, **record})


def read_manifest(export_dir: Path) -> dict[str, Any] | None:
    """The manifest, or None when the folder holds no export."""
    path = Path(export_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is corrupt ({exc}); export the run again.") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ArtifactError(f"{path} is not an export manifest.")
    if record.get("format_version", 0) > FORMAT_VERSION:
        raise ArtifactError(f"{path} was written by a newer version of this code.")
    return record
