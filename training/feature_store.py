"""Per-frame backbone features of a prepared frame cache: computed once, memory-mapped, reused everywhere.

A frozen backbone computes the same features for the same frames every time, so training a head
for several epochs, evaluating, indexing and calibrating need not run it again: the features of
every cached frame (and, for the training split, of the flipped frame, the augmentation a
frozen backbone still allows) are computed once and stored beside the cache as float16.

On disk: ``<prepared>/features/<feature key>-<cache signature>/`` holds ``manifest.json``,
``frames.npy`` and ``flipped.npy`` (rows in manifest order, each ``(K*T, D)``). The folder name
says what made it: the backbone's weights, input size and normalisation (``backbone_key``) and
the cache's content (its ``prepare.json`` and manifest); a changed checkpoint or cache gets a
new folder, never a stale one. Rows are written in order and the manifest records how many are
finished only after they are flushed, so a crash leaves a store that resumes where it stopped
and that readers refuse until it is complete.
"""

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap
from tqdm import tqdm

from core.atomic import atomic_write_json
from core.errors import ArtifactError
from core.locks import store_lock
from training.frame_cache import CONFIG_FILE, FrameCache
from training.manifest import MANIFEST_FILE, ManifestRow

log = logging.getLogger(__name__)

FORMAT = "activity-feature-store"
FEATURES_DIR = "features"
STORE_MANIFEST = "manifest.json"
FRAMES_FILE = "frames.npy"
FLIPPED_FILE = "flipped.npy"
FLIPPED_SPLITS = ("train",)
# Rows per committed chunk: a crash loses at most this many clips' work.
CHUNK_ROWS = 16

RawFeatures = Callable[[np.ndarray], np.ndarray]  # (N, H, W, 3) uint8 -> (N, D) float32


@dataclass(frozen=True)
class FeatureSource:
    """What computes the features: a key naming them and the function that computes them."""

    key: str  # backbone_key: weights, input size, normalisation
    dim: int
    raw_features: RawFeatures


def cache_signature(prepared_dir: Path) -> str:
    """Changes whenever the cache's settings or its list of clips change."""
    digest = hashlib.sha256()
    for name in (CONFIG_FILE, MANIFEST_FILE):
        digest.update((prepared_dir / name).read_bytes())
    return digest.hexdigest()[:12]


def store_dir(prepared_dir: Path, feature_key: str) -> Path:
    return Path(prepared_dir) / FEATURES_DIR / f"{feature_key}-{cache_signature(Path(prepared_dir))}"


class FeatureStore:
    """A complete store, read-only: features of a clip as a (K*T, D) float16 memory-mapped view."""

    def __init__(self, root: Path, manifest: dict) -> None:
        self.root = root
        self.manifest = manifest
        self._row = {clip_id: n for n, clip_id in enumerate(manifest["clip_ids"])}
        self._frames = np.load(root / FRAMES_FILE, mmap_mode="r")
        self._flipped = np.load(root / FLIPPED_FILE, mmap_mode="r")

    @property
    def feature_key(self) -> str:
        return self.manifest["feature_key"]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def has(self, clip_id: str) -> bool:
        return clip_id in self._row

    def frames(self, clip_id: str) -> np.ndarray:
        return self._frames[self._row[clip_id]]

    def flipped(self, clip_id: str) -> np.ndarray:
        """Features of the horizontally flipped frames (training-split clips only)."""
        if self.manifest["splits"][self._row[clip_id]] not in self.manifest["flipped_splits"]:
            raise ArtifactError(f"{self.root} holds no flipped features for {clip_id} (not a training clip).")
        return self._flipped[self._row[clip_id]]

    @classmethod
    def open(cls, prepared_dir: str | os.PathLike, feature_key: str) -> "FeatureStore | None":
        """The complete store for this cache and key, or None when there is none (yet)."""
        root = store_dir(Path(prepared_dir), feature_key)
        manifest = _read_manifest(root)
        if manifest is None or manifest["done"] != len(manifest["clip_ids"]):
            return None
        return cls(root, manifest)


def _read_manifest(root: Path) -> dict | None:
    try:
        manifest = json.loads((root / STORE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("format") == FORMAT else None


def build_feature_store(
    prepared_dir: str | os.PathLike, source: FeatureSource, *, batch_frames: int = 64, progress: bool = True
) -> FeatureStore:
    """The store for ``source`` on this cache: opened if complete, else built (resuming a crashed build)."""
    prepared_dir = Path(prepared_dir)
    existing = FeatureStore.open(prepared_dir, source.key)
    if existing is not None:
        return existing
    root = store_dir(prepared_dir, source.key)
    with store_lock(root, what=f"The feature store {root}"):
        cache = FrameCache(prepared_dir)
        rows = cache.rows()
        if not rows:
            raise ArtifactError(f"{prepared_dir} has no prepared clips to compute features of.")
        manifest = _read_manifest(root) or _new_store(root, cache, source, rows)
        frames_out = open_memmap(root / FRAMES_FILE, mode="r+")
        flipped_out = open_memmap(root / FLIPPED_FILE, mode="r+")
        started = time.perf_counter()
        bar = tqdm(total=len(rows), initial=manifest["done"], desc="features", unit="clip", disable=not progress)
        for start in range(manifest["done"], len(rows), CHUNK_ROWS):
            for n in range(start, min(start + CHUNK_ROWS, len(rows))):
                frames = np.asarray(cache.load_frames(rows[n].clip_id))
                flat = frames.reshape(-1, *frames.shape[-3:])
                frames_out[n] = _features(source, flat, batch_frames)
                if rows[n].split in FLIPPED_SPLITS:
                    flipped_out[n] = _features(source, np.ascontiguousarray(flat[:, :, ::-1]), batch_frames)
                bar.update(1)
            frames_out.flush()
            flipped_out.flush()
            manifest["done"] = min(start + CHUNK_ROWS, len(rows))
            manifest["build_time_s"] = round(manifest.get("build_time_s", 0.0) + time.perf_counter() - started, 2)
            started = time.perf_counter()
            atomic_write_json(root / STORE_MANIFEST, manifest)
        bar.close()
        del frames_out, flipped_out
        _remove_stale_siblings(root)
    log.info("feature store %s: %d clips in %.1f s", root, len(rows), manifest["build_time_s"])
    return FeatureStore(root, manifest)


def _features(source: FeatureSource, frames: np.ndarray, batch_frames: int) -> np.ndarray:
    out = [source.raw_features(frames[i : i + batch_frames]) for i in range(0, len(frames), batch_frames)]
    return np.concatenate(out).astype(np.float16)


def _new_store(root: Path, cache: FrameCache, source: FeatureSource, rows: list[ManifestRow]) -> dict:
    """Empty arrays and a manifest with nothing done: a fresh build (or one whose manifest was lost)."""
    config = cache.config
    per_row = int(config["num_clips"]) * int(config["num_frames"])
    root.mkdir(parents=True, exist_ok=True)
    for name in (FRAMES_FILE, FLIPPED_FILE):
        open_memmap(root / name, mode="w+", dtype=np.float16, shape=(len(rows), per_row, source.dim)).flush()
    manifest = {
        "format": FORMAT,
        "feature_key": source.key,
        "cache_signature": cache_signature(cache.root),
        "dim": source.dim,
        "frames_per_row": per_row,
        "num_clips": int(config["num_clips"]),
        "clip_ids": [row.clip_id for row in rows],
        "splits": [row.split for row in rows],
        "flipped_splits": list(FLIPPED_SPLITS),
        "dtype": "float16",
        "done": 0,
        "build_time_s": 0.0,
    }
    atomic_write_json(root / STORE_MANIFEST, manifest)
    return manifest


def _remove_stale_siblings(root: Path) -> None:
    """Stores of the same backbone for an older version of the cache can never be read again."""
    key = root.name.rsplit("-", 1)[0]
    for sibling in root.parent.glob(f"{key}-*"):
        if sibling != root and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)
