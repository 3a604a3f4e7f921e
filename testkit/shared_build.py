"""Session fixtures built once per test run and shared by every pytest-xdist worker.

Each worker has its own temporary root (``.../popen-gw0``); their parent belongs to the run. The
first worker to ask for an artifact builds it there under a file lock and marks it complete; the
other workers wait on the lock and then use the same folder. A build that failed half-way leaves
no mark and is built again from scratch by the next worker that asks. Artifacts shared this way
are what the product itself lets several processes read at once (a data directory, a run folder).
"""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

_COMPLETE = ".built"


def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every worker of this test run sees (a single process's own root without xdist)."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(folder)`` run once per test run for ``name``; every caller gets ``folder``."""
    folder = run_root(tmp_path_factory) / "shared" / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if not (folder / _COMPLETE).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / _COMPLETE).touch()
    return folder
