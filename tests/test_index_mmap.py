"""The app's read-only frame index: memory-mapped where FAISS allows, same answers, no writes.

Replicas on one machine open the same index files; a mapped index lives once in the page
cache instead of once per process. Mapping is checked in /proc/self/maps,
the answers against a normally loaded copy of the same files.
"""

from pathlib import Path

import numpy as np
import pytest

from core.errors import ArtifactError
from indexing.encoders.base import FrameEncoder
from indexing.frames.frame_index import FrameIndex, open_frame_index
from indexing.frames.index_types import choose_index_type
from testkit.retrieval_data import shapes_index


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[FrameIndex, FrameEncoder]:
    return open_frame_index(shapes_index(tmp_path_factory.getbasetemp() / "shapes"))


def _rebuild(built: tuple[FrameIndex, FrameEncoder], root: Path, kind: str, count: int | None = None) -> FrameIndex:
    """The built index's vectors (the first ``count``) saved again in ``root`` as a ``kind`` index."""
    flat, encoder = built
    ids = np.array(sorted(flat.records), dtype=np.int64)[:count]
    vectors = np.stack([flat.index.reconstruct(int(i)) for i in ids])
    index = FrameIndex.create(root, encoder, choose_index_type(kind, len(vectors)), vectors, sampling=flat.sampling)
    index.add(vectors, [flat.records[int(i)] for i in ids])
    index.save()
    return index


def _mapped_files() -> set[str]:
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_read_only_index_is_mapped_answers_alike_and_refuses_changes(built, tmp_path, kind):
    index_file = str((tmp_path / _rebuild(built, tmp_path, kind).manifest["files"]["index"]).resolve())
    vectors = built[0].index.index.reconstruct_n(0, len(built[0]))

    in_memory = FrameIndex.load(tmp_path)
    shared = FrameIndex.load(tmp_path, read_only=True)
    assert index_file in _mapped_files()
    queries = vectors[::5] + np.float32(0.01)
    hits = [[(h.vector_id, round(h.score, 5)) for h in row] for row in in_memory.search(queries, 5)]
    assert [[(h.vector_id, round(h.score, 5)) for h in row] for row in shared.search(queries, 5)] == hits

    record = next(iter(built[0].records.values()))
    with pytest.raises(ArtifactError, match="opened read-only"):
        shared.add(vectors[:1], [record])
    with pytest.raises(ArtifactError, match="opened read-only"):
        shared.remove(record.clip_id)
    with pytest.raises(ArtifactError, match="opened read-only"):
        shared.save()
    assert len(FrameIndex.load(tmp_path)) == len(vectors)  # nothing was written


def test_a_mapped_index_keeps_answering_after_a_rebuild_replaces_its_files(built, tmp_path):
    """A replica keeps its snapshot's index until it swaps; a rebuild deletes the old files under it."""
    _rebuild(built, tmp_path, "flat")
    shared = FrameIndex.load(tmp_path, read_only=True)
    vectors = built[0].index.index.reconstruct_n(0, 3)
    before = [[h.vector_id for h in row] for row in shared.search(vectors, 3)]

    _rebuild(built, tmp_path, "flat", count=10)  # new files, manifest swapped, the mapped file unlinked

    assert not (tmp_path / shared.manifest["files"]["index"]).exists()
    assert [[h.vector_id for h in row] for row in shared.search(vectors, 3)] == before
    assert len(FrameIndex.load(tmp_path, read_only=True)) == 10
