"""Where OpenCLIP weights come from, decided in milliseconds and without ever waiting on the network.

Asking open_clip for a pretrained tag offline stalls for ~46 s while the Hugging Face client
retries, and merely importing open_clip costs seconds. So the answer is found here first, in
this order: an explicit weights file; the tag's file in the Hugging Face cache (or open_clip's
URL cache); a download, only when the hub answers a TCP connect within half a second.
open_clip is only imported when a cached file could be the one; with nothing cached and no
network, ``locate_weights`` raises ``ArtifactError`` at once, with the reason and the fix.
"""

import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from core.errors import ArtifactError

log = logging.getLogger(__name__)

RANDOM = "random"  # no weights: random initialisation, for tests and benchmarks only
URL_CACHE = Path("~/.cache/clip")  # open_clip's download folder for URL-hosted tags
# Names open_clip gives hub weight files (its HF_WEIGHTS_NAME, the safetensors twin, and the
# plain name some repos use): the cheap scan that decides whether importing open_clip can help.
HUB_WEIGHT_PATTERNS = ("open_clip_*", "pytorch_model.bin")
PROBE_TIMEOUT_S = 0.5
FIX = (
    "Put the weights file on this machine and set ACTIVITY_CLIP_WEIGHTS=PATH (or pass --clip-weights PATH, or "
    "name it in the encoder: clip:<model>:PATH), copy it into the Hugging Face cache, or run once online."
)


@dataclass(frozen=True)
class WeightsSource:
    """What to hand open_clip: a local file, the tag itself (download allowed), or nothing (random)."""

    pretrained: str | None
    description: str
    tag_config: dict  # the tag's open_clip config (quick_gelu, mean, std); {} for files and random


def is_weights_path(pretrained: str) -> bool:
    """A tag is a bare word; anything with a path separator or a weights suffix is a file."""
    return os.sep in pretrained or "/" in pretrained or pretrained.endswith((".bin", ".pt", ".pth", ".safetensors"))


def hub_cache_dir() -> Path:
    """The Hugging Face cache, with ``HF_HUB_CACHE`` read now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants  # a light import, unlike huggingface_hub itself

    return Path(os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE)


def hub_offline_flag() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) set to a true value, read now rather than at import."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in {"1", "ON", "YES", "TRUE"}


def hub_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True when the hub accepts a TCP connection within ``timeout_s`` (DNS included)."""
    from huggingface_hub import constants

    url = urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    result: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            result.append(True)
        except OSError:
            result.append(False)

    # A thread bounds DNS resolution too, which ignores socket timeouts.
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(result and result[0])


def cached_weight_files() -> list[Path]:
    """Every file in the hub and URL caches that could be OpenCLIP weights (no open_clip import)."""
    found = []
    hub = hub_cache_dir()
    if hub.is_dir():
        for pattern in HUB_WEIGHT_PATTERNS:
            found += hub.glob(f"models--*/snapshots/*/{pattern}")
    urls = URL_CACHE.expanduser()
    if urls.is_dir():
        found += [path for path in urls.iterdir() if path.is_file()]
    return found


def tag_config(model: str, tag: str) -> dict:
    import open_clip

    config = open_clip.get_pretrained_cfg(model, tag)
    if not config:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise ArtifactError(f"OpenCLIP has no pretrained tag {tag!r} for model {model!r} (known tags: {known}).")
    return config


def cached_tag_file(config: dict) -> Path | None:
    """The tag's weights file if a previous download left it in a cache; never downloads."""
    from huggingface_hub import try_to_load_from_cache

    if config.get("hf_hub"):
        repo, filename = os.path.split(config["hf_hub"])
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        for name in names:
            path = try_to_load_from_cache(repo, name, cache_dir=hub_cache_dir())
            if isinstance(path, str) and Path(path).is_file():
                return Path(path)
    if config.get("url"):
        path = URL_CACHE.expanduser() / os.path.basename(config["url"])
        if path.is_file():
            return path
    return None


def locate_weights(model: str, pretrained: str) -> WeightsSource:
    """Where ``model``'s ``pretrained`` weights (a tag, a file, or ``random``) will come from.

    Raises ``ArtifactError`` when there are none; with no cached file and no network this takes
    milliseconds (plus at most the half-second probe when ``HF_HUB_OFFLINE`` is unset).
    """
    if pretrained == RANDOM:
        return WeightsSource(None, "random weights (tests and benchmarks only; scores mean nothing)", {})
    if is_weights_path(pretrained):
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise ArtifactError(f"CLIP weights file {path} not found. {FIX}")
        return WeightsSource(str(path.resolve()), f"weights file {path.name}", {})
    if cached_weight_files():
        config = tag_config(model, pretrained)
        path = cached_tag_file(config)
        if path is not None:
            return WeightsSource(str(path), f"{pretrained} weights from {path.parent}", config)
    if not hub_offline_flag() and hub_reachable():
        return WeightsSource(
            pretrained, f"{pretrained} weights (downloading from the hub)", tag_config(model, pretrained)
        )
    # Anything that asks the hub later in this process should fail fast too, not retry for a minute.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise ArtifactError(
        f"No OpenCLIP weights for {model} ({pretrained}) on this machine (looked in {hub_cache_dir()} and "
        f"{URL_CACHE}) and the model hub is unreachable. {FIX}"
    )
