"""Decode every clip of a dataset once into the frame cache, in parallel and resumably.

A clip that fails to decode is reported with its reason and skipped; the run still completes.
Re-running skips clips whose frames are already cached.
"""

import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from core.atomic import atomic_write, atomic_write_json
from core.errors import AssistantError, DatasetError
from core.locks import store_lock
from training.data.frame_cache import CONFIG_FILE, frames_path, safe_clip_id, times_path
from training.data.manifest import ManifestRow, read_classes, read_manifest, write_classes, write_manifest
from training.data.sources import SourceClip
from video.decoding import VideoLimits, decode_video

log = logging.getLogger(__name__)
FAILURES_FILE = "failures.json"
_CHECKPOINT_EVERY = 200

# A second prepare of the same folder waits this long, then says another one is running.
PREPARE_LOCK_WAIT_S = 5.0


@dataclass(frozen=True)
class PrepareConfig:
    num_frames: int = 16
    size: int = 128
    num_clips: int = 2
    keep_aspect: bool = False


@dataclass
class PrepareReport:
    prepared: int = 0
    resumed: int = 0
    failures: list[dict] = field(default_factory=list)


def _decode_one(task: tuple[str, str, str, PrepareConfig, VideoLimits]) -> tuple[float, float] | str:
    """Worker: decode one clip into its cache file (and, for a variable frame rate, its frames' times
    file); returns (fps, duration) or the error text."""
    source, target, times_target, config, limits = task
    cv2.setNumThreads(1)
    try:
        video = decode_video(
            source, config.num_frames, config.size,
            num_clips=config.num_clips, keep_aspect=config.keep_aspect, limits=limits,
        )  # fmt: skip
    except AssistantError as error:
        return str(error)
    except cv2.error as error:
        return f"{source}: OpenCV failed to decode ({error})"
    frames = np.stack([clip.frames for clip in video.clips])
    if video.info.variable_rate:  # before the frames: a finished clip always has its times
        times = np.concatenate([clip.times_s for clip in video.clips]).astype(np.float32)
        atomic_write(times_target, lambda handle: np.save(handle, times))
    else:  # a regular clip's times are rebuilt; never read a previous version's
        Path(times_target).unlink(missing_ok=True)
    atomic_write(target, lambda handle: np.save(handle, frames))
    return video.info.fps, video.info.duration_s


def _clip_ids(clips: list[SourceClip]) -> list[str]:
    ids, seen = [], set()
    for clip in clips:
        base = safe_clip_id(Path(clip.path).stem)
        clip_id, n = base, 1
        while clip_id in seen:
            n += 1
            clip_id = f"{base}-{n}"
        seen.add(clip_id)
        ids.append(clip_id)
    return ids


def _check_config(out_dir: Path, config: PrepareConfig, classes: list[str]) -> None:
    config_path = out_dir / CONFIG_FILE
    if not config_path.is_file():
        return
    previous = json.loads(config_path.read_text(encoding="utf-8"))
    if {k: previous.get(k) for k in asdict(config)} != asdict(config):
        raise DatasetError(f"{out_dir} was prepared with other settings ({previous}); use a new --out folder.")
    if (out_dir / "classes.json").is_file() and read_classes(out_dir) != classes:
        raise DatasetError(f"{out_dir} was prepared for other classes; use a new --out folder.")


def prepare_dataset(
    clips: list[SourceClip],
    out_dir: str | os.PathLike,
    config: PrepareConfig = PrepareConfig(),
    *,
    workers: int = 2,
    limits: VideoLimits | None = None,
    source: str = "",
) -> PrepareReport:
    """Decode every clip once into ``out_dir`` (resuming what is cached); one writer at a time."""
    with store_lock(out_dir, timeout_s=PREPARE_LOCK_WAIT_S, what=f"The prepared folder {out_dir}"):
        return _prepare(clips, Path(out_dir), config, workers=workers, limits=limits, source=source)


def _prepare(
    clips: list[SourceClip],
    out_dir: Path,
    config: PrepareConfig,
    *,
    workers: int,
    limits: VideoLimits | None,
    source: str,
) -> PrepareReport:
    classes = sorted({clip.label for clip in clips})
    _check_config(out_dir, config, classes)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / CONFIG_FILE, {**asdict(config), "source": source, "opencv": cv2.__version__})
    write_classes(out_dir, classes)

    previous = {row.clip_id: row for row in read_manifest(out_dir)} if (out_dir / "manifest.csv").is_file() else {}
    report = PrepareReport()
    done: dict[str, ManifestRow] = {}
    pending: list[tuple[str, SourceClip]] = []
    clip_ids = _clip_ids(clips)
    for clip_id, clip in zip(clip_ids, clips, strict=True):
        old = previous.get(clip_id)
        if old is not None and old.path == clip.path and frames_path(out_dir, clip_id).is_file():
            done[clip_id] = ManifestRow(clip_id, clip.path, clip.label, clip.split, clip.group, old.fps, old.duration_s)
            report.resumed += 1
        else:
            pending.append((clip_id, clip))

    def finished_rows() -> list[ManifestRow]:
        return [done[i] for i in clip_ids if i in done]

    tasks = [
        (c.path, str(frames_path(out_dir, i)), str(times_path(out_dir, i)), config, limits or VideoLimits())
        for i, c in pending
    ]
    with _executor(workers) as pool:
        results = pool.map(_decode_one, tasks) if pool else map(_decode_one, tasks)
        for n, ((clip_id, clip), result) in enumerate(
            tqdm(zip(pending, results, strict=True), total=len(pending), desc="prepare", unit="clip")
        ):
            if isinstance(result, str):
                report.failures.append({"path": clip.path, "label": clip.label, "reason": result})
                continue
            done[clip_id] = ManifestRow(clip_id, clip.path, clip.label, clip.split, clip.group, *result)
            report.prepared += 1
            if (n + 1) % _CHECKPOINT_EVERY == 0:
                write_manifest(out_dir, finished_rows())
    write_manifest(out_dir, finished_rows())
    atomic_write_json(out_dir / FAILURES_FILE, report.failures)
    if report.failures:
        log.warning("%d clip(s) failed to decode; see %s", len(report.failures), out_dir / FAILURES_FILE)
    if not done:
        raise DatasetError(f"no clip could be prepared; see {out_dir / FAILURES_FILE}.")
    return report


class _executor:
    """A spawn-based process pool, or None for in-process work when ``workers <= 1``."""

    def __init__(self, workers: int):
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if workers > 1 else None

    def __enter__(self) -> ProcessPoolExecutor | None:
        return self.pool

    def __exit__(self, *exc) -> None:
        if self.pool:
            self.pool.shutdown(cancel_futures=True)
