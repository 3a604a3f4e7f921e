"""Find pretrained weights without ever hanging on the network.

``auto`` only looks at files already on disk (the torch hub cache or a file shipped in a
package), so it is instant offline; when nothing is there the model trains from scratch and
one warning says so. ``yes`` may download, with a short socket timeout, and fails loudly.
"""

import logging
import socket
from pathlib import Path
from typing import Literal

import torch

from core.errors import ArtifactError

log = logging.getLogger(__name__)

PretrainedMode = Literal["auto", "yes", "no"]
PRETRAINED_MODES: tuple[str, ...] = ("auto", "yes", "no")
DOWNLOAD_TIMEOUT_S = 20.0


def hub_cache_path(url: str) -> Path:
    """Where ``torch.hub`` keeps the file for ``url`` once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def _download(url: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, str(target), progress=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ArtifactError(
            f"Could not download pretrained weights from {url} ({exc}). Download the file by hand "
            f"into {target.parent}, pass --weights-file PATH, or use --pretrained no."
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return target


def resolve_weights(
    model_name: str,
    mode: PretrainedMode,
    local_path: Path | None,
    url: str | None = None,
    weights_file: str | Path | None = None,
) -> Path | None:
    """The weights file to load for ``model_name``, or None to train from scratch.

    ``local_path`` is where the weights live when they are already on disk; ``url`` is where
    ``yes`` may fetch them from. A model with neither has no pretrained weights.
    """
    if mode not in PRETRAINED_MODES:
        raise ArtifactError(f"--pretrained must be one of {PRETRAINED_MODES}, got {mode!r}.")
    has_weights = local_path is not None or url is not None
    if weights_file is not None:
        if not has_weights:
            raise ArtifactError(f"Model {model_name!r} has no pretrained weights to load from a file.")
        if mode == "no":
            raise ArtifactError("--weights-file conflicts with --pretrained no; drop one of them.")
        path = Path(weights_file)
        if not path.is_file():
            raise ArtifactError(f"Weights file {path} does not exist.")
        return path
    if mode == "no":
        return None
    if local_path is not None and local_path.is_file():
        return local_path
    if mode == "yes":
        if url is None:
            where = f" (expected at {local_path})" if local_path else ""
            raise ArtifactError(f"No pretrained weights for {model_name!r}{where}; use --pretrained auto or no.")
        return _download(url, local_path or hub_cache_path(url))
    if has_weights:
        log.warning(
            "No pretrained weights for %s found at %s; training from scratch. Use --pretrained yes to "
            "download them or --weights-file PATH to point at a copy.",
            model_name,
            local_path,
        )
    return None


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """A plain state dict from ``path`` (tensors only, never pickled code)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError) as exc:
        raise ArtifactError(f"Cannot read weights file {path}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ArtifactError(f"Weights file {path} does not hold a state dict.")
    return state


def load_into(module: torch.nn.Module, path: Path, model_name: str) -> None:
    """Load upstream weights into ``module``, refusing files made for another architecture."""
    state = load_state_dict_file(path)
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise ArtifactError(f"Weights file {path} does not fit {model_name}: {exc}") from exc
    log.info("Loaded pretrained weights for %s from %s", model_name, path)
