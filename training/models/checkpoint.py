"""The classifier checkpoint: one self-describing file, loadable with ``weights_only=True``.

It holds only plain types and tensors: the model name and constructor arguments, the class
list, the preprocessing, a training summary and the state dict. ``load_classifier`` rebuilds
the model from that record alone, so every part of the product loads checkpoints the same way.
"""

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.atomic import atomic_write
from core.errors import ArtifactError
from training.models.registry import build_model
from video.preprocessing import Preprocessing

FORMAT = "activity-classifier"
FORMAT_VERSION = 1
_REQUIRED = ("format", "format_version", "model", "classes", "preprocessing", "state_dict")


@dataclass
class LoadedClassifier:
    model: nn.Module
    name: str
    model_kwargs: dict[str, Any]
    classes: list[str]
    preprocessing: Preprocessing
    summary: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def is_frame_model(self) -> bool:
        return bool(getattr(self.model, "is_frame_model", False))


def checkpoint_record(
    model: nn.Module,
    *,
    name: str,
    model_kwargs: dict[str, Any],
    classes: list[str],
    preprocessing: Preprocessing,
    summary: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"name": name, "kwargs": dict(model_kwargs)},
        "classes": list(classes),
        "preprocessing": preprocessing.to_dict(),
        "summary": dict(summary or {}),
        "versions": {"torch": str(torch.__version__)},
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    if training_state is not None:
        record["training_state"] = training_state
    return record


def save_checkpoint(path: str | Path, model: nn.Module, **record_fields: Any) -> Path:
    """Write the checkpoint atomically; ``record_fields`` are those of ``checkpoint_record``."""
    record = checkpoint_record(model, **record_fields)
    return atomic_write(path, lambda handle: torch.save(record, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint record, validated; any unreadable file becomes an ArtifactError."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"Checkpoint {path} not found. Train one with `python -m training train`.")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"Checkpoint {path} is corrupt or not a checkpoint: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ArtifactError(f"{path} is not an activity classifier checkpoint.")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ArtifactError(f"Checkpoint {path} lacks {', '.join(missing)}; retrain or re-save it.")
    if record["format_version"] > FORMAT_VERSION:
        raise ArtifactError(f"Checkpoint {path} was written by a newer version of this code.")
    return record


def check_classes(checkpoint_classes: list[str], data_classes: list[str], where: str) -> None:
    """Refuse to pair a checkpoint with data labelled differently (indices would be wrong)."""
    if list(checkpoint_classes) != list(data_classes):
        only_ckpt = sorted(set(checkpoint_classes) - set(data_classes))
        only_data = sorted(set(data_classes) - set(checkpoint_classes))
        detail = (
            f"only in checkpoint: {only_ckpt or '-'}; only in data: {only_data or '-'}"
            if only_ckpt or only_data
            else "same classes in a different order"
        )
        raise ArtifactError(
            f"The checkpoint's classes do not match {where} ({detail}). Use a checkpoint trained on "
            "this data, or re-prepare the data with the checkpoint's class list."
        )


def model_from_record(record: dict[str, Any], path: str | Path = "<checkpoint>") -> nn.Module:
    name, kwargs = record["model"]["name"], record["model"]["kwargs"]
    model = build_model(name, len(record["classes"]), **kwargs)
    try:
        model.load_state_dict(record["state_dict"])
    except RuntimeError as exc:
        raise ArtifactError(f"Checkpoint {path} does not fit model {name!r}: {exc}") from exc
    return model.eval()


def load_classifier(path: str | Path, expected_classes: list[str] | None = None) -> LoadedClassifier:
    """Rebuild the model of checkpoint ``path`` in eval mode on the CPU.

    With ``expected_classes`` (the data's class list) a checkpoint labelled differently is refused.
    """
    record = load_checkpoint(path)
    if expected_classes is not None:
        check_classes(record["classes"], expected_classes, "the data")
    return LoadedClassifier(
        model=model_from_record(record, path),
        name=record["model"]["name"],
        model_kwargs=dict(record["model"]["kwargs"]),
        classes=list(record["classes"]),
        preprocessing=Preprocessing.from_dict(record["preprocessing"]),
        summary=dict(record.get("summary", {})),
        path=Path(path),
    )
