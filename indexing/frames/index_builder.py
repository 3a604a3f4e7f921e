"""Fill the frame index: from a prepared frame cache (``frames``) or from new videos (``add``).

Only the training split is indexed by default, so that evaluating retrieval on the test split
never finds a test clip's own frames. When the cache has a complete feature store for this
encoder's backbone (``python -m assistant setup`` builds one while training), the vectors come
from it and the backbone does not run again. ``torchrun ... -m indexing frames`` shares the
clips out between ranks (``build_frame_index``).
"""

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.errors import ArtifactError, DatasetError
from core.locks import store_lock
from indexing.encoders.base import FrameEncoder, l2_normalise
from indexing.encoders.registry import get_encoder
from indexing.frames.build_leftovers import build_lease, remove_build, remove_dead_builds, staging_folder
from indexing.frames.frame_index import (
    MANIFEST_FILE,
    FrameIndex,
    FrameRecord,
    FrameSampling,
    new_build_id,
    open_frame_index,
    save_thumbnails,
    thumbnail_name,
)
from indexing.frames.frame_sampling import frame_selection
from indexing.frames.index_types import choose_index_type
from training.data.feature_store import FeatureStore
from training.data.frame_cache import FrameCache, safe_clip_id
from training.data.manifest import ManifestRow
from training.data.shard_files import gather_on_main
from training.distributed import ProcessGroup
from video.decoding import VideoLimits, decode_video
from video.frame_plan import sample_indices, segment_ranges

log = logging.getLogger(__name__)
ADDED_SPLIT = "added"


def cached_frame_times(cache: FrameCache, row: ManifestRow) -> np.ndarray:
    """Time (s) of every cached frame in (K*T) order: recorded by ``prepare`` for a variable-frame-rate
    clip, else rebuilt from how ``prepare`` sampled a regular one."""
    recorded = cache.load_times(row.clip_id)
    if recorded is not None:
        return recorded.astype(np.float64)
    config = cache.config
    count = config["num_clips"] * config["num_frames"]
    if not row.fps or not row.duration_s:
        return np.full(count, np.nan)
    total = max(1, round(row.duration_s * row.fps))
    ranges = segment_ranges(total, config["num_clips"])
    indices = np.concatenate([sample_indices(start, stop, config["num_frames"]) for start, stop in ranges])
    return indices / row.fps


def cached_frame_choice(cache: FrameCache, row: ManifestRow, per_clip: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices into the clip's K*T cached frames, their times) of the ``per_clip`` frames that are embedded."""
    total = int(cache.config["num_clips"]) * int(cache.config["num_frames"])
    chosen = frame_selection(total, per_clip)
    times = cached_frame_times(cache, row)
    return chosen, (times[chosen] if len(times) == total else np.full(len(chosen), np.nan))


def cached_clip_frames(cache: FrameCache, row: ManifestRow, per_clip: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames (n, H, W, 3), times (n,)) of one cached clip: what the index and evaluation embed."""
    chosen, times = cached_frame_choice(cache, row, per_clip)
    return _chosen_frames(cache, row, chosen), times


def _chosen_frames(cache: FrameCache, row: ManifestRow, chosen: np.ndarray) -> np.ndarray:
    """The ``chosen`` ones of a clip's K*T cached frames, (n, H, W, 3)."""
    frames = np.asarray(cache.load_frames(row.clip_id))
    return frames.reshape(-1, *frames.shape[-3:])[chosen]


def _time_or_none(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 3)


def build_frame_index(
    prepared_dir: str | os.PathLike,
    index_dir: str | os.PathLike,
    encoder: FrameEncoder,
    *,
    frames_per_clip: int = 8,
    splits: Sequence[str] = ("train",),
    index_type: str = "flat",
    nprobe: int | None = None,
    ef_search: int | None = None,
    group: ProcessGroup | None = None,
) -> FrameIndex | None:
    """Embed ``frames_per_clip`` frames of every clip in ``splits`` and save a new index.

    Each clip's frames are read once, for its vectors and its thumbnails. Under ``torchrun``
    every rank calls this with its ``group``: each indexes a contiguous share of the clips
    (vectors, and thumbnails written straight into the index folder under the build id rank 0
    chose), rank 0 gathers the vectors in clip order (``gather_on_main``), builds the index and
    saves it (atomically, as every save) and returns it; the other ranks return None. The result
    is the one-process index: the same records in the same order, the same vectors. A build that
    fails removes what it wrote; one that died is cleaned up by the next (``build_leftovers``).
    """
    group = group or ProcessGroup()
    started = time.perf_counter()
    cache = FrameCache(prepared_dir)
    rows = [row for split in splits for row in cache.rows(split)]
    if not rows:
        raise DatasetError(f"{prepared_dir} has no clips in split(s) {', '.join(splits)}; nothing to index.")
    store = FeatureStore.open(prepared_dir, encoder.feature_key) if encoder.feature_key else None
    if store is not None:
        log.info("frame vectors from the feature store %s", store.root)
    # Every cached clip has the same frame count, so the same frames of each are indexed and clip n's
    # vectors are ids n*per_clip onwards.
    chosen = frame_selection(int(cache.config["num_clips"]) * int(cache.config["num_frames"]), frames_per_clip)
    per_clip = len(chosen)
    with contextlib.ExitStack() as lease:
        build_id = group.from_main(lambda: _start_build(index_dir, lease))
        try:
            embedded = [
                _index_clip(cache, store, encoder, rows[n], chosen, (index_dir, build_id, n * per_clip))
                for n in tqdm(
                    group.share(len(rows)), desc=f"index ({encoder.name})", unit="clip", disable=not group.is_main
                )
            ]
            shares = gather_on_main(embedded, group, staging_folder(index_dir, build_id))
            if shares is None:
                return None  # not rank 0: its share is with rank 0
            # IVF trains on every vector before any is added.
            vectors = np.concatenate([clip_vectors for share in shares for clip_vectors in share])
            records = [
                replace(record, thumbnail=thumbnail_name(build_id, vector_id))
                for vector_id, record in enumerate(
                    record for row in rows for record in _clip_records(cache, row, frames_per_clip)
                )
            ]
            sampling = FrameSampling(frames_per_clip, int(cache.config["size"]), bool(cache.config.get("keep_aspect")))
            kind = choose_index_type(index_type, len(vectors), nprobe=nprobe, ef_search=ef_search)
            index = FrameIndex.create(
                index_dir, encoder, kind, vectors, sampling=sampling, source=str(prepared_dir), build_id=build_id
            )
            index.add(vectors, records)
            index.manifest["build_time_s"] = round(time.perf_counter() - started, 2)
            index.manifest["clips_per_rank"] = [len(share) for share in shares]
            index.save()
        except BaseException:
            remove_build(index_dir, build_id)
            raise
    log.info("indexed %d frames of %d clips in %s", len(index), len(rows), index_dir)
    return index


def _start_build(index_dir: str | os.PathLike, lease: contextlib.ExitStack) -> str:
    """Rank 0: clear what dead builds left, then name the new build and hold its lease in ``lease``."""
    remove_dead_builds(index_dir)
    build_id = new_build_id()
    lease.enter_context(build_lease(index_dir, build_id))
    return build_id


def _index_clip(
    cache: FrameCache,
    store: FeatureStore | None,
    encoder: FrameEncoder,
    row: ManifestRow,
    chosen: np.ndarray,
    thumbnails: tuple[str | os.PathLike, str, int],
) -> np.ndarray:
    """Write the thumbnails of the clip's ``chosen`` cached frames (``thumbnails``: index folder, build id,
    first vector id) and return their vectors: read from the feature store when it has them, else embedded now."""
    frames = _chosen_frames(cache, row, chosen)
    save_thumbnails(*thumbnails, frames)
    if store is None:
        return encoder.encode(frames)
    return l2_normalise(np.asarray(store.frames(row.clip_id)[chosen], dtype=np.float32))


def _clip_records(cache: FrameCache, row: ManifestRow, per_clip: int) -> list[FrameRecord]:
    _, times = cached_frame_choice(cache, row, per_clip)
    return [FrameRecord(row.clip_id, row.label, row.split, row.path, _time_or_none(t)) for t in times]


def _unique_clip_id(index: FrameIndex, path: Path) -> str:
    existing = set(index.clip_ids())
    base = safe_clip_id(path.stem)
    clip_id, n = base, 1
    while clip_id in existing:
        n += 1
        clip_id = f"{base}-{n}"
    return clip_id


# Frames of each example clip in a library started from example clips: as many as a setup indexes per clip.
FRAMES_PER_EXAMPLE = 8


def new_library_sampling(encoder: FrameEncoder, frame_size: int) -> FrameSampling:
    """How a library started from example clips samples them (and every later question).

    Frames are decoded at the size the encoder reads (else ``frame_size``): decoding smaller and
    letting the encoder scale up loses the detail that tells real recordings apart (on real
    footage, best-match similarity separated in-class from other clips at AUROC 0.85 from
    128 px frames and 0.89 from 224 px ones), for no saving: the encoder's cost is the same.
    """
    return FrameSampling(per_clip=FRAMES_PER_EXAMPLE, size=encoder.image_size or frame_size, keep_aspect=False)


def create_empty_index(index_dir: str | os.PathLike, encoder: FrameEncoder, sampling: FrameSampling) -> None:
    """A saved library with nothing in it yet, unless another process made one first."""
    with store_lock(index_dir, what=f"The frame index in {index_dir}"):
        if (Path(index_dir) / MANIFEST_FILE).is_file():
            return
        no_vectors = np.empty((0, encoder.dim), dtype=np.float32)
        index_type = choose_index_type("flat", 0)
        FrameIndex.create(index_dir, encoder, index_type, no_vectors, sampling=sampling, source="example clips").save()
        log.info("started an empty library in %s (%s, %d px)", index_dir, encoder.name, sampling.size)


def add_videos(
    index_dir: str | os.PathLike,
    paths: Sequence[str | os.PathLike],
    label: str,
    *,
    encoder_name: str | None = None,
    limits: VideoLimits | None = None,
    new_library_size: int | None = None,
) -> tuple[list[str], int]:
    """Decode, embed and append labelled videos (no rebuild); returns (clip ids, frames now indexed).

    All or nothing: videos are decoded and embedded first, outside the index's lock (the slow
    part), then appended to the latest committed index and saved once, under the lock. Where
    there is no index yet and ``new_library_size`` is given, the first clips start one
    (``encoder_name``, default ``auto``; ``new_library_sampling``), so a library can begin with
    a single example.
    """
    if new_library_size is not None and not (Path(index_dir) / MANIFEST_FILE).is_file():
        encoder = get_encoder(encoder_name or "auto")
        create_empty_index(index_dir, encoder, new_library_sampling(encoder, new_library_size))
    # Only its encoder and sampling are needed here: mapped, not read (the update below loads it).
    index, encoder = open_frame_index(index_dir, encoder_name, read_only=True)
    sampling = index.sampling
    embedded = []
    for path in tqdm([Path(p) for p in paths], desc="add", unit="video"):
        clip = decode_video(
            path, sampling.per_clip, sampling.size, keep_aspect=sampling.keep_aspect, limits=limits
        ).clips[0]
        embedded.append((path, clip, encoder.encode(clip.frames)))
    added = []
    with FrameIndex.updating(index_dir, encoder) as latest:
        if latest.sampling != sampling:
            raise ArtifactError(f"The frame index in {index_dir} was rebuilt while adding; add the clips again.")
        for path, clip, vectors in embedded:
            clip_id = _unique_clip_id(latest, path)
            records = [
                FrameRecord(clip_id, label, ADDED_SPLIT, str(path.resolve()), round(float(t), 3)) for t in clip.times_s
            ]
            latest.add(vectors, records, clip.frames)
            added.append(clip_id)
    return added, len(latest)


def remove_clips(index_dir: str | os.PathLike, clip_ids: Sequence[str]) -> tuple[int, int]:
    """Delete clips' vectors and thumbnails; returns (vectors removed, frames left)."""
    with FrameIndex.updating(index_dir) as index:
        removed = sum(index.remove(clip_id) for clip_id in clip_ids)
    return removed, len(index)
