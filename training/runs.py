"""The files of one training run, and where a new or resumed run lives."""

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.errors import ArtifactError

CHECKPOINT = "checkpoint.pt"
LAST = "last.pt"
HISTORY = "history.csv"
METRICS = "metrics.json"
CURVES = "curves.png"
ARGS = "args.json"


def is_run_dir(path: Path) -> bool:
    return (path / ARGS).is_file()


def resolve_run_dir(out: Path, model: str, run_name: str | None, resume: bool) -> Path:
    """``out`` is a run dir (it holds args.json) or the runs dir in which a new run is created."""
    if is_run_dir(out):
        run_dir = out
    elif run_name:
        run_dir = out / run_name
    elif resume:
        raise ArtifactError(f"{out} is not a run directory (no {ARGS}); pass the run folder to resume.")
    else:
        run_dir = out / f"{model}_{datetime.now():%Y%m%d-%H%M%S}"
    if resume and not (run_dir / LAST).is_file():
        raise ArtifactError(f"Cannot resume: {run_dir / LAST} does not exist.")
    if not resume and is_run_dir(run_dir):
        raise ArtifactError(f"{run_dir} already holds a run; pass --resume or another --out/--run-name.")
    return run_dir


def finished_runs(runs_dir: Path) -> list[Path]:
    """Run folders holding a finished checkpoint (a run's best model), most recently written first."""
    found = [path for path in runs_dir.glob(f"*/{CHECKPOINT}") if path.is_file()] if runs_dir.is_dir() else []
    return [path.parent for path in sorted(found, key=lambda path: (path.stat().st_mtime_ns, str(path)), reverse=True)]


def checkpoint_path(path: str | Path) -> Path:
    """Accept a checkpoint file or the run folder that holds it."""
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def write_history(run_dir: Path, history: list[dict[str, Any]]) -> Path:
    buffer = io.StringIO()
    if history:
        writer = csv.DictWriter(buffer, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    return atomic_write_text(run_dir / HISTORY, buffer.getvalue())


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON artifact of a run, or None when it was not written (yet)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is corrupt: {exc}") from exc
