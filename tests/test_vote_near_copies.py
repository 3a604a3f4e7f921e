"""A crowd of near-copies of one clip cannot outvote one good example of another activity (issue 15)."""

import numpy as np
import pytest

from indexing.encoders.registry import get_encoder
from indexing.frames.clip_search import search_clip
from indexing.frames.frame_index import FrameIndex, FrameRecord, FrameSampling
from indexing.frames.index_types import choose_index_type
from testkit.retrieval_data import TEST_ENCODER, shape_frames

FRAMES = 4
COPIES = 60


def _frames(label: str, seed: int) -> np.ndarray:
    clip = shape_frames(label, np.random.default_rng(seed))
    return clip[np.linspace(0, len(clip) - 1, FRAMES).astype(int)][..., ::-1].copy()  # BGR -> RGB


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """60 re-encodes (pixel noise) of one RedDisc clip and a single GreenSquare clip."""
    encoder = get_encoder(TEST_ENCODER)
    rng = np.random.default_rng(0)
    disc = _frames("RedDisc", 1)
    clips = [("RedDisc", f"disc_copy{n}", np.clip(disc + rng.normal(0, 4, disc.shape), 0, 255)) for n in range(COPIES)]
    clips.append(("GreenSquare", "square_example", _frames("GreenSquare", 2)))
    vectors = np.concatenate([encoder.encode(frames.astype(np.uint8)) for _, _, frames in clips])
    sampling = FrameSampling(per_clip=FRAMES, size=64)
    index = FrameIndex.create(
        tmp_path_factory.mktemp("crowd"), encoder, choose_index_type("flat", len(vectors)), vectors, sampling=sampling
    )
    records = [
        FrameRecord(clip_id, label, "added", f"/uploads/{clip_id}.avi", float(t))
        for label, clip_id, _ in clips
        for t in range(FRAMES)
    ]
    index.add(vectors, records)
    return index, encoder


def test_one_example_of_a_second_activity_wins_against_sixty_near_copies(library):
    index, encoder = library
    result = search_clip(index, encoder, _frames("GreenSquare", 3), k=10)
    assert result.top_label == "GreenSquare"
    assert result.vote["GreenSquare"] > 0.5
    labels = [n.label for n in result.neighbours]
    assert labels.count("GreenSquare") == 1 and labels.count("RedDisc") == 9
    # The head count this replaced (similarity-weighted shares of the 10 neighbours) said RedDisc.
    weights = {label: sum(n.score for n in result.neighbours if n.label == label) for label in set(labels)}
    assert weights["RedDisc"] > weights["GreenSquare"]


def test_copies_of_one_recording_are_one_neighbour_with_their_count(library, tmp_path):
    index, encoder = library
    grouped = FrameIndex.create(
        tmp_path, encoder, choose_index_type("flat", 0), np.empty((0, encoder.dim), np.float32), sampling=index.sampling
    )
    vectors = index.index.index.reconstruct_n(0, index.index.ntotal)
    # The same clips, named like UCF101 clips of one recording (group g01) and of another (g07).
    group = {"RedDisc": 1, "GreenSquare": 7}
    records = [
        FrameRecord(r.clip_id, r.label, r.split, f"/ucf/v_{r.label}_g{group[r.label]:02d}_c01.avi", 0.0)
        for r in (index.records[i] for i in range(len(vectors)))
    ]
    grouped.add(vectors, records)
    result = search_clip(grouped, encoder, _frames("RedDisc", 1), k=10)
    assert [(n.label, len(n.near_copies)) for n in result.neighbours] == [("RedDisc", COPIES - 1), ("GreenSquare", 0)]
    assert result.top_label == "RedDisc"


def test_evidence_lists_one_neighbour_per_recording_with_its_near_copies(assistant_resources, query_clips):
    """The assistant's index holds UCF-style groups of two clips: a group-mate is shown as a near-copy."""
    from assistant.analysis.gather import gather_evidence
    from assistant.answering.evidence_text import evidence_summary
    from indexing.frames.clip_search import source_group

    evidence = gather_evidence(query_clips["Fall"], assistant_resources, assistant_resources.settings)
    neighbours = evidence.retrieval.neighbours
    groups = [source_group(n.label, n.source_path) for n in neighbours]
    assert len(groups) == len(set(groups)) == 10
    assert any(n.near_copies == 1 for n in neighbours) and all(n.near_copies <= 1 for n in neighbours)
    assert "and 1 near-copies" in evidence_summary(evidence)
