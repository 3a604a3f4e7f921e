"""Per-frame backbone features of a prepared frame cache: computed once, memory-mapped, reused everywhere.

A frozen backbone computes the same features for the same frames every time, so training a head
for several epochs, evaluating, indexing and calibrating need not run it again: the features of
every cached frame (and, for the training split, of the flipped frame, the augmentation a
frozen backbone still allows) are computed once and stored beside the cache as float16.

On disk: ``<prepared>/features/<feature key>-<cache signature>/`` holds ``manifest.json``,
``frames.npy`` and ``flipped.npy`` (rows in manifest order, each ``(K*T, D)``). The folder name
says what made it: the backbone's weights, input size and normalisation (``backbone_key``) and
the cache's content (its ``prepare.json`` and manifest); a changed checkpoint or cache gets a
new folder, never a stale one. Rows are written in chunks; each flushed chunk leaves a marker,
and the manifest calls the store complete only once every chunk is written, so a crash leaves a
store that readers refuse and that the next build resumes chunk by chunk. Under ``torchrun`` the
ranks share the chunks out and write into the same arrays (see ``build_feature_store``).
"""

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap
from tqdm import tqdm

from core.atomic import atomic_write_json
from core.errors import ArtifactError
from core.locks import store_lock
from training.data.frame_cache import CONFIG_FILE, FrameCache
from training.data.manifest import MANIFEST_FILE
from training.distributed import ProcessGroup

log = logging.getLogger(__name__)

FORMAT = "activity-feature-store"
FEATURES_DIR = "features"
STORE_MANIFEST = "manifest.json"
FRAMES_FILE = "frames.npy"
FLIPPED_FILE = "flipped.npy"
CHUNKS_DIR = "chunks"  # one empty marker file per finished chunk while a build is under way
FLIPPED_SPLITS = ("train",)
# Rows per chunk: a crash loses at most this many clips' work per rank; ranks share out chunks.
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
        if manifest is None or not _complete(manifest):
            return None
        return cls(root, manifest)


def _read_manifest(root: Path) -> dict | None:
    try:
        manifest = json.loads((root / STORE_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("format") == FORMAT else None


def build_feature_store(
    prepared_dir: str | os.PathLike,
    source: FeatureSource,
    *,
    group: ProcessGroup | None = None,
    batch_frames: int = 64,
    progress: bool = True,
) -> FeatureStore:
    """The store for ``source`` on this cache: opened if complete, else built (resuming a crashed build).

    Under ``torchrun`` every rank calls this with its ``group``: the unfinished chunks are dealt
    out between the ranks, each writes its rows into the shared arrays, and rank 0 (which holds
    the store's lock for all of them) commits the manifest once every rank has finished.
    """
    group = group or ProcessGroup()
    prepared_dir = Path(prepared_dir)
    root = store_dir(prepared_dir, source.key)
    with ExitStack() as held:

        def open_or_begin() -> dict:
            manifest = _read_manifest(root)
            if manifest is not None and _complete(manifest):
                return manifest
            held.enter_context(store_lock(root, what=f"The feature store {root}"))
            manifest = _read_manifest(root)  # another builder may have finished while we waited
            if manifest is not None and (_complete(manifest) or "chunk_rows" in manifest):
                return manifest
            return _new_store(root, FrameCache(prepared_dir), source)

        manifest = group.from_main(open_or_begin)
        if not _complete(manifest):
            started = time.perf_counter()
            rows_done = _fill_share(prepared_dir, root, manifest, source, group, batch_frames, progress)
            done_per_rank = group.per_rank(rows_done)  # waits for every rank's rows
            elapsed = time.perf_counter() - started
            manifest = group.from_main(lambda: _commit(root, manifest, done_per_rank, elapsed))
    return FeatureStore(root, manifest)


def _complete(manifest: dict) -> bool:
    return manifest["done"] == len(manifest["clip_ids"])


def _pending_chunks(root: Path, manifest: dict) -> list[int]:
    """First rows of the chunks not yet written and flushed (each finished chunk leaves a marker file)."""
    finished = {int(marker.name) for marker in (root / CHUNKS_DIR).glob("*")}
    return [start for start in range(0, len(manifest["clip_ids"]), manifest["chunk_rows"]) if start not in finished]


def _mark_chunk_done(root: Path, start: int) -> None:
    (root / CHUNKS_DIR / f"{start:09d}").touch()


def _fill_share(
    prepared_dir: Path,
    root: Path,
    manifest: dict,
    source: FeatureSource,
    group: ProcessGroup,
    batch_frames: int,
    progress: bool,
) -> int:
    """Compute this rank's share of the unfinished chunks; returns how many rows it computed."""
    cache = FrameCache(prepared_dir)
    rows = cache.rows()
    if [row.clip_id for row in rows] != manifest["clip_ids"]:
        raise ArtifactError(f"The frame cache in {prepared_dir} changed while {root} was being built; run again.")
    chunk = manifest["chunk_rows"]
    mine = [range(start, min(start + chunk, len(rows))) for start in _pending_chunks(root, manifest)]
    mine = mine[group.rank :: group.world_size]
    frames_out = open_memmap(root / FRAMES_FILE, mode="r+")
    flipped_out = open_memmap(root / FLIPPED_FILE, mode="r+")
    done = 0
    with tqdm(total=sum(map(len, mine)), desc="features", unit="clip", disable=not progress) as bar:
        for chunk_rows in mine:
            for n in chunk_rows:
                frames = np.asarray(cache.load_frames(rows[n].clip_id))
                flat = frames.reshape(-1, *frames.shape[-3:])
                frames_out[n] = _features(source, flat, batch_frames)
                if rows[n].split in FLIPPED_SPLITS:
                    flipped_out[n] = _features(source, np.ascontiguousarray(flat[:, :, ::-1]), batch_frames)
                done += 1
                bar.update(1)
            frames_out.flush()
            flipped_out.flush()
            _mark_chunk_done(root, chunk_rows.start)
    return done


def _commit(root: Path, manifest: dict, done_per_rank: list[float], elapsed_s: float) -> dict:
    """Rank 0, once every rank is done: check every chunk is written, then make the store readable."""
    missing = _pending_chunks(root, manifest)
    if missing:
        raise ArtifactError(f"{root}: {len(missing)} chunk(s) were not written by any rank; run again to finish.")
    manifest = {
        **manifest,
        "done": len(manifest["clip_ids"]),
        "rows_per_rank": [int(n) for n in done_per_rank],
        "build_time_s": round(elapsed_s, 2),  # of the run that finished it
    }
    atomic_write_json(root / STORE_MANIFEST, manifest)
    shutil.rmtree(root / CHUNKS_DIR, ignore_errors=True)
    _remove_stale_siblings(root)
    log.info("feature store %s: %d clips in %.1f s", root, len(manifest["clip_ids"]), manifest["build_time_s"])
    return manifest


def _features(source: FeatureSource, frames: np.ndarray, batch_frames: int) -> np.ndarray:
    out = [source.raw_features(frames[i : i + batch_frames]) for i in range(0, len(frames), batch_frames)]
    return np.concatenate(out).astype(np.float16)


def _new_store(root: Path, cache: FrameCache, source: FeatureSource) -> dict:
    """Empty arrays and a manifest with nothing done: a fresh build (or one whose manifest was lost)."""
    rows = cache.rows()
    if not rows:
        raise ArtifactError(f"{cache.root} has no prepared clips to compute features of.")
    config = cache.config
    per_row = int(config["num_clips"]) * int(config["num_frames"])
    shutil.rmtree(root / CHUNKS_DIR, ignore_errors=True)
    (root / CHUNKS_DIR).mkdir(parents=True)
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
        "chunk_rows": CHUNK_ROWS,
        "done": 0,
    }
    atomic_write_json(root / STORE_MANIFEST, manifest)
    return manifest


def _remove_stale_siblings(root: Path) -> None:
    """Stores of the same backbone for an older version of the cache can never be read again."""
    key = root.name.rsplit("-", 1)[0]
    for sibling in root.parent.glob(f"{key}-*"):
        if sibling != root and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)
