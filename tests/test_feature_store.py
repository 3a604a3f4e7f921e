"""The feature store (issue 10): features computed once are the backbone's features, are renewed when
what made them changes, survive a crash, and train a head as well as the pixels do."""

import shutil

import numpy as np
import pytest

import training.data.feature_store as feature_store
from indexing.encoders.registry import get_encoder
from indexing.frames.frame_index import FrameIndex
from indexing.frames.index_builder import build_frame_index, cached_clip_frames
from training.data.feature_store import FeatureStore, build_feature_store
from training.data.frame_cache import FrameCache
from training.evaluate.evaluation import evaluate
from training.fit.trainer import TrainConfig, train
from training.models.frame_features import model_feature_source
from training.models.registry import build_model, get_spec
from training.runs import CHECKPOINT
from video.preprocessing import Preprocessing

SIZE = 32  # the prepared synthetic frames


def frozen_effnet(seed_weights: bool = True):
    spec = get_spec("effnet_frames")
    model = build_model(
        "effnet_frames",
        4,
        pretrained="yes" if seed_weights else "no",
        **spec.constructor_kwargs(input_size=SIZE, freeze_backbone=True),
    )
    preprocessing = Preprocessing(num_frames=8, decode_size=SIZE, crop_size=SIZE, mean=spec.mean, std=spec.std)
    return model, preprocessing


@pytest.fixture
def prepared(prepared_synthetic, tmp_path):
    """A private copy of the prepared synthetic set (stores are written into it)."""
    return shutil.copytree(prepared_synthetic, tmp_path / "prepared")


def test_stored_features_are_the_backbone_features_and_the_encoders_too(prepared):
    model, preprocessing = frozen_effnet()
    source = model_feature_source(model, preprocessing)
    store = build_feature_store(prepared, source, progress=False)
    cache = FrameCache(prepared)
    row = cache.rows("train")[0]
    frames = np.asarray(cache.load_frames(row.clip_id)).reshape(-1, SIZE, SIZE, 3)
    fresh = source.raw_features(frames)
    stored = np.asarray(store.frames(row.clip_id), dtype=np.float32)
    assert stored.shape == fresh.shape == (16, 1280)
    np.testing.assert_allclose(stored, fresh, rtol=2e-3, atol=2e-3)  # float16 storage
    flipped = source.raw_features(np.ascontiguousarray(frames[:, :, ::-1]))
    np.testing.assert_allclose(np.asarray(store.flipped(row.clip_id), dtype=np.float32), flipped, rtol=2e-3, atol=2e-3)
    assert not np.allclose(flipped, fresh, atol=1e-2)  # flipping really changes the features
    # The index encoder with the same backbone at the same size computes the same features.
    encoder = get_encoder(f"effnet_lite0@{SIZE}")
    assert encoder.feature_key == store.feature_key
    np.testing.assert_allclose(encoder.raw_features(frames), fresh, rtol=1e-3, atol=1e-3)
    with pytest.raises(Exception, match="no flipped features"):
        store.flipped(cache.rows("test")[0].clip_id)


def test_another_backbone_or_another_cache_gets_a_new_store(prepared):
    model, preprocessing = frozen_effnet()
    built = build_feature_store(prepared, model_feature_source(model, preprocessing), progress=False)
    assert FeatureStore.open(prepared, built.feature_key) is not None
    random_model, _ = frozen_effnet(seed_weights=False)
    other = model_feature_source(random_model, preprocessing)
    assert other.key != built.feature_key and FeatureStore.open(prepared, other.key) is None
    # The cache changes (a clip leaves the manifest): the old store is no longer the cache's.
    manifest = prepared / "manifest.csv"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]))
    assert FeatureStore.open(prepared, built.feature_key) is None
    rebuilt = build_feature_store(prepared, model_feature_source(model, preprocessing), progress=False)
    assert len(rebuilt.manifest["clip_ids"]) == len(built.manifest["clip_ids"]) - 1
    assert not built.root.exists()  # the stale store was removed


def test_a_crashed_build_is_refused_then_resumed_from_its_last_committed_chunk(prepared, monkeypatch):
    model, preprocessing = frozen_effnet()
    source = model_feature_source(model, preprocessing)
    monkeypatch.setattr(feature_store, "CHUNK_ROWS", 10)
    real_mark = feature_store._mark_chunk_done
    marked = []

    def crash_before_the_second_mark(root, start):
        marked.append(start)
        if len(marked) == 2:
            raise KeyboardInterrupt("killed")
        real_mark(root, start)

    monkeypatch.setattr(feature_store, "_mark_chunk_done", crash_before_the_second_mark)
    with pytest.raises(KeyboardInterrupt):
        build_feature_store(prepared, source, progress=False)
    assert FeatureStore.open(prepared, source.key) is None  # a half-built store is never read
    monkeypatch.setattr(feature_store, "_mark_chunk_done", real_mark)

    computed = []

    def counting(frames):
        computed.append(len(frames))
        return source.raw_features(frames)

    store = build_feature_store(prepared, feature_store.FeatureSource(source.key, source.dim, counting), progress=False)
    total = len(FrameCache(prepared).rows())
    assert marked == [0, 10]  # the first chunk of 10 clips was committed, the second was not
    resumed_rows = total - 10
    train_rows = sum(row.split == "train" for row in FrameCache(prepared).rows()[10:])
    assert sum(computed) == (resumed_rows + train_rows) * 16  # only what was not committed, flips for train
    assert store.manifest["rows_per_rank"] == [resumed_rows]
    assert not (store.root / feature_store.CHUNKS_DIR).exists()  # markers go once the store is complete
    cache = FrameCache(prepared)
    first = cache.rows()[0]
    fresh = source.raw_features(np.asarray(cache.load_frames(first.clip_id)).reshape(-1, SIZE, SIZE, 3))
    np.testing.assert_allclose(np.asarray(store.frames(first.clip_id), np.float32), fresh, rtol=2e-3, atol=2e-3)


def test_training_from_features_matches_training_from_pixels(prepared, tmp_path):
    config = dict(model="effnet_frames", data=str(prepared), epochs=3, batch_size=8, lr=3e-3, patience=0)
    config.update(freeze_backbone=True, progress=False, scheduler="none")
    pixels = train(TrainConfig(**config, cached_features=False), tmp_path / "pixels")
    assert not (prepared / "features").exists()  # the pixel path computes no store
    features = train(TrainConfig(**config), tmp_path / "features")
    assert len(list((prepared / "features").iterdir())) == 1
    pixel_test = evaluate(tmp_path / "pixels" / CHECKPOINT, prepared, "test", progress=False)
    feature_test = evaluate(tmp_path / "features" / CHECKPOINT, prepared, "test", progress=False)
    assert abs(pixel_test["video_level"]["accuracy"] - feature_test["video_level"]["accuracy"]) <= 0.02
    assert abs(pixels["best_val_acc"] - features["best_val_acc"]) <= 0.02
    # Not two constant models agreeing by accident: they predict several classes, video by video alike.
    pairs = list(zip(pixel_test["video_predictions"], feature_test["video_predictions"], strict=True))
    assert np.mean([a["predicted"] == b["predicted"] for a, b in pairs]) >= 0.9
    assert len({b["predicted"] for _, b in pairs}) > 1


def test_the_index_reads_vectors_from_the_store(prepared, tmp_path):
    model, preprocessing = frozen_effnet()
    build_feature_store(prepared, model_feature_source(model, preprocessing), progress=False)
    encoder = get_encoder(f"effnet_lite0@{SIZE}")
    calls = []
    original = encoder.raw_features
    encoder.raw_features = lambda frames: calls.append(len(frames)) or original(frames)
    from_store = build_frame_index(prepared, tmp_path / "a", encoder, frames_per_clip=4)
    assert calls == []  # no backbone pass at all
    encoder.raw_features = original
    shutil.rmtree(prepared / "features")
    fresh = build_frame_index(prepared, tmp_path / "b", encoder, frames_per_clip=4)
    cache = FrameCache(prepared)
    query = encoder.encode(cached_clip_frames(cache, cache.rows("train")[2], 4)[0])
    hits_store = [(h.record.clip_id, round(h.score, 2)) for h in FrameIndex.load(tmp_path / "a").search(query, 5)[0]]
    hits_fresh = [(h.record.clip_id, round(h.score, 2)) for h in fresh.search(query, 5)[0]]
    assert len(from_store) == len(fresh) and hits_store == hits_fresh
