"""Cross-process locks for the stores two processes may write (the app and a CLI, two CLIs).

A store is a folder (the frame index, the Chroma KB, a prepared frame cache, a run, a feature
store); its lock is the file ``.lock`` inside it, held with ``filelock`` (an OS-level lock, so
a writer killed with ``kill -9`` releases it at once and never leaves a stale lock behind).
The same lock also serialises threads of one process (each thread holds its own handle) and
is re-entrant within a thread, so a save inside an update does not wait for itself. Writers
hold it for their whole read-modify-write, so two writers never lose each other's changes;
readers that need a consistent set of files hold it while they read.
"""

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import ArtifactError

LOCK_FILE = ".lock"
# Long enough for another process's save or sync (seconds), short enough not to hang a request.
DEFAULT_TIMEOUT_S = 120.0

_locks: dict[Path, FileLock] = {}
_registry = threading.Lock()


def _lock_for(folder: Path) -> FileLock:
    """One ``FileLock`` per store and process; its state is per thread (filelock's ``thread_local``)."""
    path = (folder / LOCK_FILE).resolve()
    with _registry:
        if path not in _locks:
            _locks[path] = FileLock(path)
        return _locks[path]


@contextlib.contextmanager
def store_lock(folder: str | os.PathLike, *, timeout_s: float = DEFAULT_TIMEOUT_S, what: str = "") -> Iterator[None]:
    """Hold ``folder``'s lock; ``ArtifactError`` naming the store when another writer keeps it too long."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = _lock_for(folder)
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout as error:
        raise ArtifactError(
            f"{what or folder} is being written by another process (lock {folder / LOCK_FILE} held for over "
            f"{timeout_s:.0f} s); wait for it to finish and try again."
        ) from error
    try:
        yield
    finally:
        lock.release()
