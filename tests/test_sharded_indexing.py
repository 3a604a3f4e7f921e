"""Sharded feature extraction and indexing under ``torchrun`` (issue 12 item 2): 2 CPU ranks share
the clips and give the one-process result (same ids in the same order, same vectors).

Ranks are real processes launched as users launch them: ``torchrun -m indexing frames`` and
``torchrun -m training train`` (whose frozen frame model builds the feature store).
"""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from indexing.encoders.registry import get_encoder
from indexing.frames.frame_index import FrameIndex
from indexing.frames.index_builder import build_frame_index
from testkit.loopback import free_port
from testkit.torchrun import COLLECTIVE_TIMEOUT_S, ROOT, hand_started_rank_env, torchrun
from tests.test_feature_store import frozen_effnet
from training.data.feature_store import FeatureStore, build_feature_store
from training.data.frame_cache import FrameCache
from training.models.frame_features import model_feature_source

# Slow: torchrun ranks building one index; `make check` leaves it out, `make test` runs it.
pytestmark = pytest.mark.slow

ENCODER = "effnet_lite0@32"  # the frozen effnet_frames backbone at the cache size: shares the store's key


def _vectors(index: FrameIndex) -> np.ndarray:
    """Vectors in id order (a flat index's ids are 0..n-1 in the order they were added)."""
    return index.index.index.reconstruct_n(0, len(index))


def _records(index: FrameIndex) -> list[tuple]:
    return [(vid, r.clip_id, r.label, r.split, r.frame_time_s) for vid, r in sorted(index.records.items())]


def _index_ranks(prepared, index_dir) -> FrameIndex:
    args = ["frames", "--data", str(prepared), "--encoder", ENCODER, "--index-dir", str(index_dir)]
    result = torchrun("indexing", args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "on 2 rank(s)" in result.stdout
    return FrameIndex.load(index_dir)


@pytest.fixture
def prepared(prepared_synthetic, tmp_path):
    return shutil.copytree(prepared_synthetic, tmp_path / "prepared")


def test_two_ranks_index_and_extract_features_like_one_process(prepared, tmp_path):
    encoder = get_encoder(ENCODER)
    alone = build_frame_index(prepared, tmp_path / "alone", encoder)
    clips = len(FrameCache(prepared).rows("train"))

    # No feature store yet: each rank embeds its share with the encoder.
    sharded = _index_ranks(prepared, tmp_path / "sharded")
    assert sharded.manifest["clips_per_rank"] == [clips // 2, clips - clips // 2]
    assert _records(sharded) == _records(alone) and len(sharded) == len(alone) > 0
    np.testing.assert_allclose(_vectors(sharded), _vectors(alone), atol=1e-5)
    assert [p.name for p in tmp_path.iterdir() if "shards" in p.name] == []  # staging folders removed
    # Each rank wrote its own clips' thumbnails: every record has its picture, the one-process one.
    assert {p.name for p in (sharded.root / "thumbs").iterdir()} == {r.thumbnail for r in sharded.records.values()}
    for vector_id, record in sharded.records.items():
        picture = sharded.thumbnail_path(record).read_bytes()
        assert picture == alone.thumbnail_path(alone.records[vector_id]).read_bytes()

    # Training a frozen frame model on 2 ranks builds the feature store, each rank a share of it.
    train = ["train", "--model", "effnet_frames", "--freeze-backbone", "--data", str(prepared), "--epochs", "1"]
    result = torchrun("training", [*train, "--out", str(tmp_path / "runs"), "--run-name", "r", "--no-progress"])
    assert result.returncode == 0, result.stderr[-3000:]
    source = model_feature_source(*frozen_effnet())  # what the two ranks trained: a store with its key
    store = FeatureStore.open(prepared, source.key)
    assert store is not None, "the two ranks left no complete feature store"
    total = len(FrameCache(prepared).rows())
    per_rank = store.manifest["rows_per_rank"]
    assert sum(per_rank) == total and min(per_rank) > 0  # both ranks computed rows, none twice
    without_store = shutil.copytree(prepared, tmp_path / "one-process", ignore=shutil.ignore_patterns("features"))
    reference = build_feature_store(without_store, source, progress=False)
    for clip_id in reference.manifest["clip_ids"]:
        np.testing.assert_array_equal(store.frames(clip_id), reference.frames(clip_id))
    train_clip = FrameCache(prepared).rows("train")[0].clip_id
    np.testing.assert_array_equal(store.flipped(train_clip), reference.flipped(train_clip))

    # With the store present the ranks read their shares from it: the same index, to float16 precision.
    from_store = _index_ranks(prepared, tmp_path / "from-store")
    assert _records(from_store) == _records(alone)
    np.testing.assert_allclose(_vectors(from_store), _vectors(alone), atol=2e-3)


def test_a_rank_that_fails_leaves_the_previous_index_and_no_staging_behind(prepared, tmp_path):
    """Rank 1 cannot read its data (started by hand with another --data, as on a badly mounted node):
    rank 0 gives up within the collective timeout, the index it would have replaced still loads."""
    index_dir = tmp_path / "index"
    before = build_frame_index(prepared, index_dir, get_encoder(ENCODER))
    port = str(free_port())
    ranks = []
    for rank, data in enumerate([prepared, tmp_path / "not-mounted"]):
        command = [sys.executable, "-m", "indexing", "frames", "--data", str(data), "--encoder", ENCODER]
        env = hand_started_rank_env(rank, port)
        ranks.append(
            subprocess.Popen(
                [*command, "--index-dir", str(index_dir)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
            )
        )
    try:
        errors = [process.communicate(timeout=COLLECTIVE_TIMEOUT_S + 90)[1] for process in ranks]
    finally:
        for process in ranks:
            process.kill()
    assert [process.returncode for process in ranks] == [1, 1]
    assert "not-mounted" in errors[1]
    assert "rank 0 of 2 stopped" in errors[0] and "Another rank probably died or hung" in errors[0]
    after = FrameIndex.load(index_dir)
    assert after.manifest["build_id"] == before.manifest["build_id"] and len(after) == len(before)
    assert [p.name for p in tmp_path.iterdir() if "shards" in p.name] == []
    # Only the live build's thumbnails (the clean-up of a half-written build: test_frame_index).
    assert {p.name for p in (index_dir / "thumbs").iterdir()} == {r.thumbnail for r in before.records.values()}
