"""Two processes, one store (issue 11): writers never lose each other's changes, a killed writer leaves
the previous version loadable, and its lock is released with it."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.errors import ArtifactError
from core.locks import store_lock
from indexing.frames.frame_index import FrameIndex, FrameRecord, FrameSampling
from indexing.frames.index_types import choose_index_type

DIM = 8
ROUNDS = 15
PER_ROUND = 3
ROOT = Path(__file__).resolve().parents[1]

# A writer process: ROUNDS read-modify-writes, each adding PER_ROUND vectors of clips named after it.
WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from indexing.frames.frame_index import FrameIndex, FrameRecord

    root, name, rounds, per_round, dim = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    for n in range(rounds):
        with FrameIndex.updating(root) as index:
            vectors = rng.normal(size=(per_round, dim)).astype("float32")
            records = [FrameRecord(f"{name}-{n}", name, "added", "", None) for _ in range(per_round)]
            index.add(vectors, records)
    """
)

# A writer that hangs after writing its new index files but before committing the manifest.
HANGING_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    import indexing.frames.frame_index as frame_index
    from indexing.frames.frame_index import FrameIndex, FrameRecord

    root, marker = sys.argv[1], Path(sys.argv[2])
    def hang(*args, **kwargs):
        marker.write_text("files written")
        time.sleep(600)
    frame_index.atomic_write_json = hang
    with FrameIndex.updating(root) as index:
        index.add(np.ones((4, index.manifest["dim"]), "float32"), [FrameRecord("doomed", "X", "added", "", None)] * 4)
    """
)


def _new_index(root: Path) -> FrameIndex:
    encoder = SimpleNamespace(spec={"name": "test-vectors", "preprocessing": "none"}, dim=DIM)
    vectors = np.random.default_rng(0).normal(size=(5, DIM)).astype("float32")
    index = FrameIndex.create(root, encoder, choose_index_type("flat", 5), vectors, sampling=FrameSampling())
    index.add(vectors, [FrameRecord(f"seed-{n}", "Seed", "train", "", None) for n in range(5)])
    index.save()
    return index


def _python(script: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env, cwd=ROOT)


def test_two_processes_adding_at_once_keep_every_addition(tmp_path):
    root = tmp_path / "index"
    _new_index(root)
    writers = [_python(WRITER, str(root), name, str(ROUNDS), str(PER_ROUND), str(DIM)) for name in ("alpha", "beta")]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]

    index = FrameIndex.load(root)
    assert len(index) == 5 + 2 * ROUNDS * PER_ROUND
    expected = {f"{name}-{n}" for name in ("alpha", "beta") for n in range(ROUNDS)}
    assert expected <= set(index.clip_ids())
    assert len(list(root.glob("index-*.faiss"))) == 1  # every superseded version was cleaned up


def test_a_writer_killed_mid_save_leaves_the_previous_index_and_releases_its_lock(tmp_path):
    root = tmp_path / "index"
    before = _new_index(root)
    marker = tmp_path / "marker"
    writer = _python(HANGING_WRITER, str(root), str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert writer.poll() is None and time.monotonic() < deadline, "the writer never reached its save"
        time.sleep(0.1)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)

    after = FrameIndex.load(root)  # the half-written version is not visible
    assert len(after) == len(before) and "doomed" not in after.clip_ids()
    started = time.monotonic()
    with FrameIndex.updating(root) as index:  # the lock died with its holder: no wait
        index.add(np.zeros((2, DIM), "float32"), [FrameRecord("next", "Next", "added", "", None)] * 2)
    assert time.monotonic() - started < 10
    assert "next" in FrameIndex.load(root).clip_ids() and len(FrameIndex.load(root)) == len(before) + 2


def test_a_store_held_too_long_is_a_clear_error(tmp_path):
    holder = _python(
        "import sys, time\nfrom core.locks import store_lock\nwith store_lock(sys.argv[1]):\n"
        "    open(sys.argv[2], 'w').close()\n    time.sleep(60)\n",
        str(tmp_path / "store"),
        str(tmp_path / "held"),
    )
    try:
        while not (tmp_path / "held").exists():
            time.sleep(0.05)
        with pytest.raises(ArtifactError, match="being written by another process"):
            with store_lock(tmp_path / "store", timeout_s=0.5, what="The test store"):
                pass
    finally:
        holder.kill()
        holder.wait()
