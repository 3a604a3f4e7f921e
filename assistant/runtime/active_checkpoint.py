"""Which classifier checkpoint answers: the one named in ``<data>/active_checkpoint.txt``, else the newest run.

A file (not a setting) so the app can switch models at run time and every process (UI, CLI,
benchmarks) agrees on the choice without restarting.
"""

from pathlib import Path

from core.atomic import atomic_write_text
from core.errors import ArtifactError
from core.locks import store_lock
from core.settings import Settings
from training.runs import CHECKPOINT, checkpoint_path, finished_runs

ACTIVE_FILE = "active_checkpoint.txt"


def active_file(settings: Settings) -> Path:
    return settings.data_dir / ACTIVE_FILE


def newest_checkpoint(runs_dir: Path) -> Path | None:
    """The most recently written ``runs/*/checkpoint.pt`` (a finished run's best model)."""
    runs = finished_runs(runs_dir)
    return runs[0] / CHECKPOINT if runs else None


def find_active_checkpoint(settings: Settings) -> Path | None:
    """The checkpoint to use, or None when nothing has been trained yet.

    A stale ``active_checkpoint.txt`` (its file deleted) is an error rather than a silent switch
    to another model: the user chose that model and should learn it is gone.
    """
    marker = active_file(settings)
    if marker.is_file():
        text = marker.read_text(encoding="utf-8").strip()
        if text:
            path = checkpoint_path(Path(text) if Path(text).is_absolute() else settings.data_dir / text)
            if not path.is_file():
                raise ArtifactError(
                    f"{marker} names {path}, which does not exist. Choose another checkpoint in the app's "
                    f"Models tab, or delete {marker} to use the newest run."
                )
            return path
    return newest_checkpoint(settings.runs_dir)


def set_active_checkpoint(settings: Settings, path: str | Path) -> Path:
    """Make ``path`` (a checkpoint file or its run folder) the one that answers."""
    path = checkpoint_path(Path(path)).resolve()
    if not path.is_file():
        raise ArtifactError(f"{path} is not a checkpoint file; train one with `python -m training train`.")
    with store_lock(settings.runs_dir, what=f"The runs folder {settings.runs_dir}"):
        atomic_write_text(active_file(settings), f"{path}\n")
    return path
