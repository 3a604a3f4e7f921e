"""Runs side by side: one markdown table built from each run's metrics and evaluation files."""

from pathlib import Path
from typing import Any

from core.errors import ArtifactError
from training.runs import METRICS, read_json

COLUMNS = (
    "run",
    "model",
    "params (M)",
    "best val acc",
    "clip acc",
    "video acc",
    "macro F1 (video)",
    "train time (s)",
    "inference ms/clip",
)


def _number(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def run_row(run_dir: Path, split: str) -> list[str]:
    metrics = read_json(run_dir / METRICS)
    if metrics is None:
        raise ArtifactError(f"{run_dir} has no {METRICS}; is it a finished training run?")
    evaluation = read_json(run_dir / f"eval_{split}.json") or {}
    clip, video = evaluation.get("clip_level", {}), evaluation.get("video_level", {})
    inference = _number(metrics.get("inference_ms_per_clip"), 1)
    if inference != "-":
        inference += f" ({metrics.get('inference_device', '?')})"
    return [
        run_dir.name,
        str(metrics.get("model", "?")),
        _number(metrics.get("params", 0) / 1e6, 2),
        _number(metrics.get("best_val_acc"), 3),
        _number(clip.get("accuracy"), 3),
        _number(video.get("accuracy"), 3),
        _number(video.get("macro_f1"), 3),
        _number(metrics.get("train_time_s"), 0),
        inference,
    ]


def compare_runs(run_dirs: list[str | Path], split: str = "test") -> str:
    """Markdown table; accuracy columns come from ``eval_<split>.json`` ('-' when not evaluated)."""
    if not run_dirs:
        raise ArtifactError("Name at least one run folder to compare.")
    rows = [run_row(Path(run), split) for run in run_dirs]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
