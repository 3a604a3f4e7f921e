"""A frame-index build that dies (killed with SIGKILL, as by the out-of-memory killer) leaves its
thumbnails and staging folder; the next build removes them, and leaves a build that is still
running alone (``indexing.frames.build_leftovers``)."""

import signal
import subprocess
import sys

import numpy as np

from indexing.encoders.registry import get_encoder
from indexing.frames.build_leftovers import staging_folder
from indexing.frames.frame_index import THUMBS_DIR, FrameIndex
from indexing.frames.index_builder import build_frame_index
from testkit.retrieval_data import TEST_ENCODER, prepared_shapes
from testkit.torchrun import ROOT

# A build as the builder writes one: lease held, thumbnails and a rank's staged vectors on disk.
BUILD = """
import os, signal, sys
import numpy as np
from indexing.frames.build_leftovers import build_lease, staging_folder
from indexing.frames.frame_index import save_thumbnails

index_dir, build_id, ending = sys.argv[1:]
with build_lease(index_dir, build_id):
    save_thumbnails(index_dir, build_id, 0, np.zeros((3, 16, 16, 3), dtype=np.uint8))
    staging_folder(index_dir, build_id).mkdir()
    np.save(staging_folder(index_dir, build_id) / "rank-1.npy", np.zeros((3, 4), dtype=np.float32))
    print("written", flush=True)
    if ending == "dies":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.read()  # still running until the test closes its input
"""


def _start_build(index_dir, build_id: str, ending: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(index_dir), build_id, ending],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "written"
    return process


def _thumbnail_builds(index_dir) -> set[str]:
    return {path.name.split("-", 1)[0] for path in (index_dir / THUMBS_DIR).iterdir()}


def test_the_next_build_removes_a_dead_builds_leftovers_and_spares_a_running_one(tmp_path):
    index_dir = tmp_path / "frame_index"
    prepared = prepared_shapes(tmp_path / "shapes")
    encoder = get_encoder(TEST_ENCODER)
    live = build_frame_index(prepared, index_dir, encoder, frames_per_clip=2)

    dead = _start_build(index_dir, "dead00000000", "dies")
    assert dead.wait(timeout=30) == -signal.SIGKILL
    running = _start_build(index_dir, "running00000", "runs")
    try:
        assert _thumbnail_builds(index_dir) == {live.manifest["build_id"], "dead00000000", "running00000"}

        rebuilt = build_frame_index(prepared, index_dir, encoder, frames_per_clip=2)

        assert not staging_folder(index_dir, "dead00000000").exists()
        assert staging_folder(index_dir, "running00000").is_dir()
        assert _thumbnail_builds(index_dir) == {rebuilt.manifest["build_id"], "running00000"}
        assert not list(index_dir.glob(".build-dead*")) and not list(
            index_dir.glob(f".build-{rebuilt.manifest['build_id']}*")
        )
    finally:
        running.communicate(input="", timeout=30)
    loaded = FrameIndex.load(index_dir, encoder)
    assert len(loaded) == len(live) and all(loaded.thumbnail_path(r).is_file() for r in loaded.records.values())
    np.testing.assert_array_equal(sorted(loaded.clip_ids()), sorted(live.clip_ids()))
