"""The frame index: contents, persistence, encoder checks, add/remove, crash-safe saves."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

import indexing.frames.frame_index as frame_index_module
from core.errors import ArtifactError
from indexing.encoders.registry import get_encoder
from indexing.frames.clip_search import search_clip
from indexing.frames.frame_index import FrameIndex, open_frame_index
from indexing.frames.index_builder import add_videos, build_frame_index, cached_clip_frames, remove_clips
from indexing.frames.index_types import choose_index_type, create_index
from testkit.retrieval_data import TEST_ENCODER, prepared_shapes, shapes_index
from training.data.frame_cache import FrameCache


@pytest.fixture(scope="module")
def shapes_base(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "shapes"


@pytest.fixture(scope="module")
def cache(shapes_base) -> FrameCache:
    return FrameCache(prepared_shapes(shapes_base))


@pytest.fixture(scope="module")
def built(shapes_base):
    return open_frame_index(shapes_index(shapes_base))


@pytest.fixture
def index_copy(built, tmp_path):
    """A private copy of the built index that a test may change."""
    target = tmp_path / "frame_index"
    shutil.copytree(built[0].root, target)
    return target


def _query(cache: FrameCache, clip_id: str) -> np.ndarray:
    return cached_clip_frames(cache, cache.row(clip_id), 4)[0]


def test_manifest_and_metadata_describe_the_index(built, cache):
    index, encoder = built
    train = cache.rows("train")
    manifest = json.loads((index.root / "manifest.json").read_text())
    assert manifest["encoder"] == encoder.spec and manifest["encoder"]["name"] == TEST_ENCODER
    assert manifest["dim"] == 1280 and manifest["count"] == 4 * len(train) == len(index)
    assert manifest["clips"] == len(train) and manifest["classes"] == sorted({r.label for r in train})
    assert manifest["splits"] == ["train"]  # test clips stay out of the index by default
    assert manifest["index_type"]["factory"] == "Flat" and manifest["sampling"]["per_clip"] == 4
    assert manifest["build_time_s"] > 0 and manifest["versions"]["faiss"]
    by_clip = {}
    for record in index.records.values():
        by_clip.setdefault(record.clip_id, []).append(record)
    assert set(by_clip) == {r.clip_id for r in train}
    for row in train[:3]:
        records = by_clip[row.clip_id]
        times = [r.frame_time_s for r in records]
        assert times == sorted(times) and 0 <= times[0] < times[-1] <= row.duration_s
        assert {r.label for r in records} == {row.label} and records[0].source_path == row.path
        with Image.open(index.thumbnail_path(records[0])) as thumb:
            assert thumb.format == "JPEG" and thumb.size == (64, 64)


def test_nearest_neighbour_of_a_clips_own_frames_is_that_clip(built, cache):
    index, encoder = built
    for row in cache.rows("train")[::5]:
        result = search_clip(index, encoder, _query(cache, row.clip_id), k=3)
        assert result.neighbours[0].clip_id == row.clip_id
        assert result.neighbours[0].score == pytest.approx(1.0, abs=1e-4)
        assert result.neighbours[1].score < result.neighbours[0].score


def test_save_load_round_trip_gives_identical_results(built, cache, index_copy):
    index, encoder = built
    query = encoder.encode(_query(cache, cache.rows("test")[0].clip_id))
    before = index.search(query, 10)
    FrameIndex.load(index_copy).save()  # a second generation of the same content
    reloaded = FrameIndex.load(index_copy, encoder)
    after = reloaded.search(query, 10)
    assert [[(h.vector_id, h.score, h.record) for h in row] for row in after] == [
        [(h.vector_id, h.score, h.record) for h in row] for row in before
    ]
    assert len(list(index_copy.glob("index-*.faiss"))) == 1  # the old generation was cleaned up


def test_a_different_encoder_is_refused(built, cache):
    index, _ = built
    other = get_encoder("effnet_lite0@64")
    with pytest.raises(ArtifactError, match="built with encoder 'effnet_lite0@96'"):
        FrameIndex.load(index.root, other)
    with pytest.raises(ArtifactError, match="cannot be queried"):
        search_clip(index, other, _query(cache, cache.rows("train")[0].clip_id))
    with pytest.raises(ArtifactError, match="cannot be queried"):
        open_frame_index(index.root, "effnet_lite0@64")


def test_add_and_remove_change_search_results(built, cache, index_copy):
    index, encoder = open_frame_index(index_copy)
    row = cache.rows("test")[0]  # a clip the index has never seen
    frames = _query(cache, row.clip_id)
    assert row.clip_id not in [n.clip_id for n in search_clip(index, encoder, frames, 10).neighbours]

    added, total = add_videos(index_copy, [row.path], "NewLabel")
    assert len(added) == 1 and total == len(built[0]) + 4
    reloaded = FrameIndex.load(index_copy, encoder)  # add saved the index
    top = search_clip(reloaded, encoder, frames, 5).neighbours[0]
    assert (top.clip_id, top.label) == (added[0], "NewLabel") and top.score > 0.97
    assert top.source_path == str(row.path) and "NewLabel" in reloaded.classes()

    neighbour = search_clip(reloaded, encoder, frames, 5).neighbours[1].clip_id
    assert remove_clips(index_copy, [added[0], neighbour]) == (8, len(built[0]) - 4)
    after = FrameIndex.load(index_copy, encoder)
    ids = [n.clip_id for n in search_clip(after, encoder, frames, 30).neighbours]
    assert added[0] not in ids and neighbour not in ids and len(after) == len(built[0]) - 4
    thumbs = {p.name for p in (index_copy / "thumbs").iterdir()}
    assert thumbs == {r.thumbnail for r in after.records.values()}  # removed clips' thumbnails are gone
    with pytest.raises(ArtifactError, match="not in the frame index"):
        after.remove(added[0])


@pytest.mark.parametrize("crash_point", ["write_records", "atomic_write_json"])
def test_a_crash_mid_save_leaves_the_previous_index_loadable(built, cache, index_copy, monkeypatch, crash_point):
    index, encoder = open_frame_index(index_copy)
    query = encoder.encode(_query(cache, cache.rows("train")[3].clip_id))
    before = [(h.vector_id, h.score) for h in index.search(query, 5)[0]]
    index.remove(cache.rows("train")[3].clip_id)

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(frame_index_module, crash_point, crash)
    with pytest.raises(OSError, match="simulated"):
        index.save()
    monkeypatch.undo()

    survivor = FrameIndex.load(index_copy, encoder)
    assert len(survivor) == len(built[0])
    assert [(h.vector_id, h.score) for h in survivor.search(query, 5)[0]] == before
    survivor.save()  # the next good save removes the files the crashed one left behind
    assert len(list(index_copy.glob("index-*.faiss"))) == len(list(index_copy.glob("metadata-*.jsonl"))) == 1


def test_a_rebuild_that_fails_half_way_leaves_the_live_index_and_only_its_thumbnails(
    built, shapes_base, index_copy, monkeypatch
):
    live, encoder = open_frame_index(index_copy)
    encode, calls = encoder.encode, []

    def encode_until_the_fourth_clip(frames):
        calls.append(len(frames))
        if len(calls) == 4:
            raise RuntimeError("out of memory (simulated)")
        return encode(frames)

    monkeypatch.setattr(encoder, "encode", encode_until_the_fourth_clip)
    with pytest.raises(RuntimeError, match="simulated"):
        build_frame_index(prepared_shapes(shapes_base), index_copy, encoder, frames_per_clip=4)
    monkeypatch.undo()
    assert len(calls) == 4  # three clips' thumbnails were written before the failure
    after = FrameIndex.load(index_copy, encoder)
    assert after.manifest["build_id"] == live.manifest["build_id"] and len(after) == len(live)
    assert {p.name for p in (index_copy / "thumbs").iterdir()} == {r.thumbnail for r in live.records.values()}


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_find_own_clip_and_support_remove(built, cache, tmp_path, kind):
    flat, encoder = built
    ids = np.array(sorted(flat.records), dtype=np.int64)
    vectors = np.stack([flat.index.reconstruct(int(i)) for i in ids])
    index_type = choose_index_type(kind, len(vectors))
    index = FrameIndex.create(tmp_path / kind, encoder, index_type, vectors, sampling=flat.sampling)
    index.add(vectors, [flat.records[int(i)] for i in ids])
    index.save()
    index = FrameIndex.load(tmp_path / kind, encoder)
    assert index.manifest["index_type"]["factory"].startswith(kind.upper())
    row = cache.rows("train")[7]
    frames = _query(cache, row.clip_id)
    assert search_clip(index, encoder, frames, 3).neighbours[0].clip_id == row.clip_id
    index.remove(row.clip_id)
    assert len(index) == len(flat) - 4
    assert row.clip_id not in [n.clip_id for n in search_clip(index, encoder, frames, 10).neighbours]


def test_loading_a_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(ArtifactError, match="python -m indexing frames"):
        FrameIndex.load(tmp_path / "nothing")


def test_index_types_are_sized_for_the_library():
    assert choose_index_type("flat", 10).factory == "Flat"
    ivf = choose_index_type("ivf", 1_000_000)
    assert (ivf.factory, ivf.params) == ("IVF1000,SQ8", {"nprobe": 8})
    assert choose_index_type("ivf", 400).factory == "IVF10,SQ8"  # >= 40 training points per list
    assert choose_index_type("hnsw", 10, ef_search=64).params == {"efSearch": 64}
    custom = choose_index_type("IVF16,Flat", 1000, nprobe=4)
    assert (custom.kind, custom.factory, custom.params) == ("factory", "IVF16,Flat", {"nprobe": 4})
    with pytest.raises(ArtifactError, match="needs at least 16 vectors"):
        create_index(custom, 8, np.zeros((5, 8), dtype=np.float32))
    with pytest.raises(ArtifactError, match="cannot build index type"):
        create_index(choose_index_type("NoSuchIndex", 10), 8, np.zeros((0, 8), dtype=np.float32))
