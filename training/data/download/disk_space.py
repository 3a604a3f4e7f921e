"""Refuse work that cannot fit on the disk before starting it, not after filling the disk."""

import shutil
from pathlib import Path

from core.errors import DatasetError

# Room left for everything else on the disk (logs, the frame cache's first writes).
MARGIN_BYTES = 64 * 1024 * 1024


def size_text(count: int) -> str:
    return f"{count / 1024**3:.2f} GB" if count >= 1024**3 else f"{count / 1024**2:.1f} MB"


def ensure_free_space(folder: Path, needed: int, what: str) -> None:
    """Raise a DatasetError that says how much is missing when ``needed`` bytes do not fit in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed + MARGIN_BYTES > free:
        raise DatasetError(
            f"not enough disk space for {what}: it needs {size_text(needed)} in {folder}, "
            f"only {size_text(free)} are free. Free some space, or choose a folder on a larger disk "
            "(--dest, or --data-dir / ACTIVITY_DATA_DIR)."
        )
