"""Where to run: CUDA (with mixed precision) when present, the CPU otherwise."""

import contextlib
from collections.abc import Iterator

import torch

from core.errors import ArtifactError


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ArtifactError(f"--device {requested} asked for, but no CUDA GPU is available; use cpu or auto.")
    return torch.device(requested)


def amp_enabled(device: torch.device, allowed: bool = True) -> bool:
    """Mixed precision only pays off (and is only well supported) on CUDA."""
    return allowed and device.type == "cuda"


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool) -> Iterator[None]:
    if enabled:
        with torch.autocast(device_type=device.type, dtype=torch.float16):
            yield
    else:
        yield
