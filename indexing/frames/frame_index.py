"""The frame index: FAISS vectors of sampled frames plus one metadata record per vector.

On disk (``<data>/frame_index/``): ``manifest.json`` names the current ``index-<token>.faiss``
and ``metadata-<token>.jsonl`` and records what built them (encoder spec, frame sampling,
index type, classes, counts, versions); ``thumbs/`` holds one JPEG per indexed frame. A save
writes new uniquely named files first and commits by atomically replacing the manifest, so a
crash at any point leaves the previous index loadable; unreferenced files are removed after.

Two processes (the app and ``python -m indexing add``, say) may change one index: loads and
saves hold the folder's cross-process lock, and ``FrameIndex.updating`` holds it across a
whole read-modify-write, so one writer's additions are never lost to another's save, and a
reader never pairs a new manifest with files a concurrent save has just removed.

The app opens the index read-only and memory-mapped (``read_only=True``): the index file stays
in the page cache, shared by every app replica on the machine instead of copied into each
(flat, IVF and HNSW indexes all map with faiss 1.15). A read-only index refuses changes;
writers load their own copy with ``updating``. A rebuild unlinks the old file, and a replica
still searching its old snapshot keeps the mapping until it swaps to the new one.
"""

import contextlib
import json
import os
import platform
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import faiss
import numpy as np
from PIL import Image

from core.atomic import atomic_write, atomic_write_json
from core.errors import ArtifactError
from core.locks import store_lock
from indexing.encoders.base import FrameEncoder
from indexing.frames.index_types import IndexType, apply_search_params, create_index

FORMAT = "activity-frame-index"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
THUMBS_DIR = "thumbs"
THUMB_QUALITY = 85
# Map the index file instead of reading it (FAISS's flat-codes mmap), and never write through it.
MMAP_READ_ONLY = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """What is known about one indexed frame."""

    clip_id: str
    label: str
    split: str
    source_path: str
    frame_time_s: float | None
    thumbnail: str | None = None  # file name under thumbs/


@dataclass(frozen=True, slots=True)
class FrameHit:
    vector_id: int
    score: float
    record: FrameRecord


@dataclass(frozen=True)
class FrameSampling:
    """How frames were taken from each clip, so queries are decoded the same way."""

    per_clip: int = 8
    size: int = 128
    keep_aspect: bool = False


def new_build_id() -> str:
    return uuid.uuid4().hex[:12]


def thumbnail_name(build_id: str, vector_id: int) -> str:
    """Names carry the build id: a rebuild never overwrites the live index's thumbnails, and the
    ranks of a sharded build, each writing its clips' thumbnails, never collide."""
    return f"{build_id}-{vector_id}.jpg"


def save_thumbnails(root: str | os.PathLike, build_id: str, first_id: int, frames: np.ndarray) -> list[str]:
    """Write ``frames`` as the thumbnails of vectors ``first_id``, ``first_id + 1``, ... of build
    ``build_id``; returns their names under ``thumbs/``."""
    folder = Path(root) / THUMBS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    names = [thumbnail_name(build_id, first_id + n) for n in range(len(frames))]
    for name, frame in zip(names, frames, strict=True):
        Image.fromarray(np.ascontiguousarray(frame)).save(folder / name, quality=THUMB_QUALITY)
    return names


class FrameIndex:
    def __init__(
        self,
        root: Path,
        index: faiss.IndexIDMap2,
        records: dict[int, FrameRecord],
        manifest: dict,
        *,
        read_only: bool = False,
    ):
        self.root = Path(root)
        self.index = index
        self.records = records
        self.manifest = manifest
        self.read_only = read_only

    # -- creating and loading -------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        root: str | os.PathLike,
        encoder: FrameEncoder,
        index_type: IndexType,
        training_vectors: np.ndarray,
        *,
        sampling: FrameSampling,
        source: str = "",
        build_id: str | None = None,
    ) -> "FrameIndex":
        """An empty index (trained on ``training_vectors`` for IVF types); nothing is written yet.

        A sharded build passes the ``build_id`` its ranks named their thumbnails with."""
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "encoder": encoder.spec,
            "dim": encoder.dim,
            "index_type": index_type.to_dict(),
            "sampling": asdict(sampling),
            "source": source,
            "build_id": build_id or new_build_id(),
            "next_id": 0,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_time_s": None,
        }
        return cls(Path(root), create_index(index_type, encoder.dim, training_vectors), {}, manifest)

    @classmethod
    def load(
        cls, root: str | os.PathLike, encoder: FrameEncoder | None = None, *, read_only: bool = False
    ) -> "FrameIndex":
        """Load the committed index; with ``encoder``, refuse one built by another encoder.

        ``read_only`` memory-maps what FAISS can map (see the module docstring) for searching only.
        """
        root = Path(root)
        manifest_path = root / MANIFEST_FILE
        if not manifest_path.is_file():
            raise ArtifactError(
                f"No frame index in {root}. Build one with `python -m indexing frames --data <prepared dir>`."
            )
        try:
            with store_lock(root, what=f"The frame index in {root}"):
                manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
                if manifest.get("format") != FORMAT:
                    raise ValueError(f"format is {manifest.get('format')!r}, expected {FORMAT!r}")
                index = faiss.read_index(str(root / manifest["files"]["index"]), MMAP_READ_ONLY if read_only else 0)
                records = _read_records(root / manifest["files"]["metadata"])
        except (OSError, KeyError, ValueError, RuntimeError) as error:
            raise ArtifactError(f"Frame index in {root} is unreadable ({error}); rebuild it.") from error
        if index.ntotal != len(records):
            raise ArtifactError(f"Frame index in {root} has {index.ntotal} vectors but {len(records)} records.")
        loaded = cls(root, index, records, manifest, read_only=read_only)
        apply_search_params(index, loaded.index_type)
        if encoder is not None:
            loaded.check_encoder(encoder)
        return loaded

    @classmethod
    @contextlib.contextmanager
    def updating(cls, root: str | os.PathLike, encoder: FrameEncoder | None = None) -> Iterator["FrameIndex"]:
        """The latest committed index, locked until the caller's changes are saved (none on error)."""
        with store_lock(root, what=f"The frame index in {root}"):
            index = cls.load(root, encoder)
            yield index
            index.save()

    # -- what it holds --------------------------------------------------------------------------
    @property
    def encoder_spec(self) -> dict:
        return self.manifest["encoder"]

    @property
    def index_type(self) -> IndexType:
        return IndexType.from_dict(self.manifest["index_type"])

    @property
    def sampling(self) -> FrameSampling:
        return FrameSampling(**self.manifest["sampling"])

    def __len__(self) -> int:
        return self.index.ntotal

    def clip_ids(self) -> list[str]:
        return sorted({record.clip_id for record in self.records.values()})

    def classes(self) -> list[str]:
        return sorted({record.label for record in self.records.values()})

    def thumbnail_path(self, record: FrameRecord) -> Path | None:
        return self.root / THUMBS_DIR / record.thumbnail if record.thumbnail else None

    def check_encoder(self, encoder: FrameEncoder) -> None:
        """Vectors of different encoders are not comparable: refuse instead of returning noise."""
        if encoder.spec != self.encoder_spec:
            raise ArtifactError(
                f"The frame index in {self.root} was built with encoder {self.encoder_spec['name']!r} "
                f"({self.encoder_spec['preprocessing']}); it cannot be queried with {encoder.name!r} "
                f"({encoder.preprocessing}). Use --encoder {self.encoder_spec['name']} or rebuild the index."
            )

    # -- changing it ----------------------------------------------------------------------------
    def _check_writable(self) -> None:
        """FAISS would write into (or crash on) a mapped file; say which way to change an index instead."""
        if self.read_only:
            raise ArtifactError(
                f"The frame index in {self.root} was opened read-only (memory-mapped) for searching; "
                "change it through FrameIndex.updating or the `indexing add`, `remove` and `frames` commands."
            )

    def add(self, vectors: np.ndarray, records: list[FrameRecord], thumbnails: np.ndarray | None = None) -> list[int]:
        """Append vectors with their records (and uint8 thumbnail frames, unless the records name
        thumbnails already written by ``save_thumbnails``); returns their ids."""
        self._check_writable()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.manifest["dim"] or len(vectors) != len(records):
            raise ValueError(f"expected {len(records)} vectors of dim {self.manifest['dim']}, got {vectors.shape}")
        start = self.manifest["next_id"]
        ids = list(range(start, start + len(records)))
        if thumbnails is not None:
            names = save_thumbnails(self.root, self.manifest["build_id"], start, thumbnails)
            records = [replace(record, thumbnail=name) for record, name in zip(records, names, strict=True)]
        self.index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
        self.records.update(zip(ids, records, strict=True))
        self.manifest["next_id"] = start + len(records)
        return ids

    def remove(self, clip_id: str) -> int:
        """Delete every vector of ``clip_id``; returns how many were removed."""
        self._check_writable()
        ids = [vid for vid, record in self.records.items() if record.clip_id == clip_id]
        if not ids:
            raise ArtifactError(f"Clip {clip_id!r} is not in the frame index in {self.root}.")
        if self.index_type.supports_remove:
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))
        else:
            self._rebuild_without(set(ids))
        for vid in ids:
            del self.records[vid]
        return len(ids)

    def _rebuild_without(self, dropped: set[int]) -> None:
        """Graph indexes (HNSW) cannot delete in place: re-insert the vectors that stay."""
        all_ids = faiss.vector_to_array(self.index.id_map)
        vectors = self.index.index.reconstruct_n(0, self.index.ntotal)
        keep = np.array([vid not in dropped for vid in all_ids], dtype=bool)
        rebuilt = create_index(self.index_type, self.manifest["dim"], vectors[keep])
        rebuilt.add_with_ids(vectors[keep], all_ids[keep])
        self.index = rebuilt

    # -- querying -------------------------------------------------------------------------------
    def search(self, vectors: np.ndarray, k: int) -> list[list[FrameHit]]:
        """The ``k`` most similar indexed frames for each query vector, best first."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.manifest["dim"]:
            raise ValueError(f"expected query vectors of dim {self.manifest['dim']}, got {vectors.shape}")
        k = min(k, len(self))
        if k <= 0:
            return [[] for _ in vectors]
        scores, ids = self.index.search(vectors, k)
        return [
            [FrameHit(int(i), float(s), self.records[int(i)]) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]

    def vectors(self, vector_ids: list[int]) -> np.ndarray:
        """The stored vectors of ``vector_ids`` (as approximate as the index type stores them).

        IVF indexes keep no id -> position map until asked for one; it is built (in memory) once.
        """
        ids = np.asarray(vector_ids, dtype=np.int64)
        if not len(ids):
            return np.empty((0, self.dim), dtype=np.float32)
        try:
            return self.index.reconstruct_batch(ids)
        except RuntimeError:
            faiss.extract_index_ivf(self.index.index).make_direct_map()
            return self.index.reconstruct_batch(ids)

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    # -- saving ---------------------------------------------------------------------------------
    def save(self) -> Path:
        """Write new files, then commit by replacing the manifest; clean up what is unreferenced."""
        self._check_writable()
        with store_lock(self.root, what=f"The frame index in {self.root}"):
            self._save_locked()
        return self.root

    def _save_locked(self) -> None:
        previous_build = committed_build_id(self.root)
        token = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        files = {"index": f"index-{token}.faiss", "metadata": f"metadata-{token}.jsonl"}
        write_index_file(self.index, self.root / files["index"])
        write_records(self.root / files["metadata"], self.records)
        manifest = {
            **self.manifest,
            "files": files,
            "count": len(self),
            "clips": len(self.clip_ids()),
            "classes": self.classes(),
            "splits": sorted({r.split for r in self.records.values()}),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": {
                "faiss": faiss.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
        }
        atomic_write_json(self.root / MANIFEST_FILE, manifest)
        self.manifest = manifest
        self._remove_unreferenced(previous_build)

    def _remove_unreferenced(self, previous_build: str | None) -> None:
        """Files no committed manifest names. Thumbnails of a build still being written by another
        process (neither this build nor the one it replaced) are left to that build."""
        keep = set(self.manifest["files"].values())
        for pattern in ("index-*.faiss", "metadata-*.jsonl"):
            for path in self.root.glob(pattern):
                if path.name not in keep:
                    path.unlink(missing_ok=True)
        thumbs = self.root / THUMBS_DIR
        if thumbs.is_dir():
            used = {record.thumbnail for record in self.records.values()}
            ours = {self.manifest["build_id"], previous_build}
            for path in thumbs.iterdir():
                if path.name not in used and path.name.split("-", 1)[0] in ours:
                    path.unlink(missing_ok=True)


def committed_build_id(root: Path) -> str | None:
    """The build id the index's manifest names; None when there is no readable one."""
    try:
        return json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8")).get("build_id")
    except (OSError, ValueError):
        return None


def write_index_file(index: faiss.Index, path: Path) -> None:
    """faiss writes by path; flush it to disk before the manifest may point at it."""
    faiss.write_index(index, str(path))
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def write_records(path: Path, records: dict[int, FrameRecord]) -> None:
    lines = (json.dumps({"id": vid, **asdict(record)}) + "\n" for vid, record in records.items())
    atomic_write(path, lambda handle: handle.writelines(line.encode("utf-8") for line in lines))


def _read_records(path: Path) -> dict[int, FrameRecord]:
    records = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            vector_id = int(row.pop("id"))
            records[vector_id] = FrameRecord(**row)
    return records


def open_frame_index(
    root: str | os.PathLike, encoder_name: str | None = None, *, read_only: bool = False
) -> tuple[FrameIndex, FrameEncoder]:
    """Load an index with the encoder it was built with (or ``encoder_name``, which must match).

    The encoder comes from the registry, which builds torch models (the full install); the
    answering bundle pairs ``FrameIndex.load`` with its ONNX encoder instead.
    """
    from indexing.encoders.registry import get_encoder

    index = FrameIndex.load(root, read_only=read_only)
    encoder = get_encoder(encoder_name or index.encoder_spec["name"])
    index.check_encoder(encoder)
    return index, encoder
