"""What a frame-index build writes before it commits, and how the leftovers of a dead build go.

A build writes thumbnails named by its build id into the index's ``thumbs/`` (every rank of a
sharded build writes its own clips') and, under ``torchrun``, each rank's vectors into a staging
folder beside the index, ``.<index>.shards-<build id>``. A build that fails cleanly removes both
(``remove_build``). One that dies cannot (rank 0 killed by the out-of-memory killer, a lost
node), so every build holds a lease while it runs: an OS lock on ``.build-<build id>.lock`` in
the index folder, which the kernel releases when the process dies however it dies. Each new
build first removes the leftovers of every build that is neither the committed one nor holding
its lease (``remove_dead_builds``).
"""

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from indexing.frames.frame_index import THUMBS_DIR, committed_build_id

log = logging.getLogger(__name__)
LEASE_PREFIX, LEASE_SUFFIX = ".build-", ".lock"


def staging_folder(index_dir: str | os.PathLike, build_id: str) -> Path:
    """Where the ranks of build ``build_id`` leave their vectors for rank 0 (beside the index)."""
    index_dir = Path(index_dir)
    return index_dir.parent / f".{index_dir.name}.shards-{build_id}"


def _lease_path(index_dir: Path, build_id: str) -> Path:
    return index_dir / f"{LEASE_PREFIX}{build_id}{LEASE_SUFFIX}"


@contextlib.contextmanager
def build_lease(index_dir: str | os.PathLike, build_id: str) -> Iterator[None]:
    """Hold build ``build_id``'s lease while it writes (rank 0, from before anything is written
    until after the commit)."""
    path = _lease_path(Path(index_dir), build_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path):
        yield
    path.unlink(missing_ok=True)


def remove_build(index_dir: str | os.PathLike, build_id: str) -> bool:
    """Delete the thumbnails and staging folder of build ``build_id``, unless it is the committed one
    (then False)."""
    index_dir = Path(index_dir)
    if committed_build_id(index_dir) == build_id:
        return False
    for path in (index_dir / THUMBS_DIR).glob(f"{build_id}-*.jpg"):
        path.unlink(missing_ok=True)
    shutil.rmtree(staging_folder(index_dir, build_id), ignore_errors=True)
    return True


def remove_dead_builds(index_dir: str | os.PathLike) -> list[str]:
    """Remove what builds that died left behind; returns their build ids. Builds still running hold
    their lease and are left alone; one that commits while this runs is re-checked under its lease."""
    index_dir = Path(index_dir)
    thumbs = index_dir / THUMBS_DIR
    builds = {path.name.split("-", 1)[0] for path in thumbs.glob("*-*.jpg")} if thumbs.is_dir() else set()
    builds |= {path.name.rsplit("-", 1)[1] for path in index_dir.parent.glob(f".{index_dir.name}.shards-*")}
    builds |= {path.name[len(LEASE_PREFIX) : -len(LEASE_SUFFIX)] for path in index_dir.glob(f"{LEASE_PREFIX}*")}
    builds.discard(committed_build_id(index_dir))
    removed = []
    if builds:
        index_dir.mkdir(parents=True, exist_ok=True)  # a staging folder can outlive an index never committed
    for build_id in sorted(builds):
        lease = _lease_path(index_dir, build_id)
        lock = FileLock(lease)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # that build is running
        try:
            if remove_build(index_dir, build_id):  # a build that committed meanwhile is seen here
                removed.append(build_id)
        finally:
            lock.release()
            lease.unlink(missing_ok=True)
    if removed:
        log.info("removed what %d build(s) that died left in %s: %s", len(removed), index_dir, ", ".join(removed))
    return removed
