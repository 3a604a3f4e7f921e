"""Clip search and retrieval-as-classifier on real videos, plus the CLI around them."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.cli import run_cli
from indexing.__main__ import main
from indexing.encoders.registry import get_encoder
from indexing.frames.clip_search import (
    Neighbour,
    collapse,
    label_vote,
    search_clip,
    search_vectors,
    search_video,
    source_group,
)
from indexing.frames.frame_index import open_frame_index
from indexing.frames.index_builder import build_frame_index, cached_clip_frames
from indexing.frames.retrieval_eval import evaluate_retrieval
from testkit.retrieval_data import TEST_ENCODER, prepared_shapes, shapes_index
from training.data.frame_cache import FrameCache


@pytest.fixture(scope="module")
def shapes_base(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "shapes"


@pytest.fixture(scope="module")
def built(shapes_base):
    return open_frame_index(shapes_index(shapes_base))


@pytest.fixture(scope="module")
def report(shapes_base, built):
    index, encoder = built
    return evaluate_retrieval(prepared_shapes(shapes_base), index, encoder, split="test", k=5)


def test_knn_vote_separates_visually_distinct_classes(report):
    assert report["num_samples"] == 16 and report["query_overlap_with_index"] == 0
    assert report["accuracy"] >= 0.9  # chance is 0.25
    assert report["macro_f1"] >= 0.9 and report["hit_at_5"] == 1.0
    # Neighbours are recordings (UCF groups of 2 clips): each class has 3 in the index, so 3/5 is the ceiling.
    assert report["precision_at_5"] == pytest.approx(0.6)
    assert set(report["per_class"]) == {"BlueTriangle", "GreenSquare", "RedDisc", "YellowBar"}
    assert all(v["support"] == 4 for v in report["per_class"].values())


def test_neighbours_are_distinct_clips_best_first_and_vote_sums_to_one(built, shapes_base):
    index, encoder = built
    cache = FrameCache(prepared_shapes(shapes_base))
    row = cache.rows("test")[0]
    result = search_clip(index, encoder, cached_clip_frames(cache, row, 4)[0], k=7)
    ids = [n.clip_id for n in result.neighbours]
    scores = [n.score for n in result.neighbours]
    assert len(ids) == len(set(ids)) == 7 and scores == sorted(scores, reverse=True)
    assert sum(result.vote.values()) == pytest.approx(1.0)
    assert list(result.vote.values()) == sorted(result.vote.values(), reverse=True)
    assert result.top_label == row.label
    assert result.vote == pytest.approx(label_vote(result.neighbours))
    assert result.best_score == scores[0]


def test_search_vectors_can_exclude_the_query_clip(built, shapes_base):
    index, encoder = built
    cache = FrameCache(prepared_shapes(shapes_base))
    row = cache.rows("train")[4]
    vectors = encoder.encode(cached_clip_frames(cache, row, 4)[0])
    assert search_vectors(index, vectors, 3).neighbours[0].clip_id == row.clip_id
    excluded = search_vectors(index, vectors, 3, exclude_clips={row.clip_id})
    assert len(excluded.neighbours) == 3 and row.clip_id not in [n.clip_id for n in excluded.neighbours]
    assert excluded.top_label == row.label


def _neighbour(label: str, score: float, clip_id: str | None = None, source: str = "") -> Neighbour:
    return Neighbour(clip_id or f"{label}{score}", label, score, None, None, source or f"{clip_id or label}{score}.avi")


def test_label_vote_takes_each_labels_best_match_not_a_head_count():
    crowd = [_neighbour("A", 0.8, f"a{n}") for n in range(9)]
    vote = label_vote([_neighbour("B", 0.9), *crowd])
    # spread of the ten similarities is 0.03, so B stands 0.1 / 0.03 = 3.33 spreads above A.
    assert vote == pytest.approx({"B": 1 / (1 + np.exp(-10 / 3)), "A": np.exp(-10 / 3) / (1 + np.exp(-10 / 3))})
    assert list(vote) == ["B", "A"]
    # A head count (similarity-weighted, as before issue 15) gave A 7.2 / 8.1 = 89 %.
    assert label_vote([_neighbour("A", 0.5), _neighbour("B", 0.5)]) == {"A": 0.5, "B": 0.5}
    assert label_vote([_neighbour("A", 0.4)]) == {"A": 1.0}
    assert label_vote([]) == {}


def test_collapse_keeps_the_best_clip_of_each_recording_and_counts_its_near_copies():
    group = [_neighbour("Surf", 0.9 - n / 100, f"v_Surf_g03_c0{n}", f"/d/v_Surf_g03_c0{n}.avi") for n in range(1, 5)]
    other = _neighbour("Dive", 0.85, "v_Dive_g01_c01", "/d/v_Dive_g01_c01.avi")
    collapsed = collapse([*group, other], k=10)
    assert [(n.clip_id, n.near_copies) for n in collapsed] == [
        ("v_Surf_g03_c01", ("v_Surf_g03_c02", "v_Surf_g03_c03", "v_Surf_g03_c04")),
        ("v_Dive_g01_c01", ()),
    ]
    # Collapsing again (the windows of one video) keeps every near-copy once, under the best clip.
    window = [_neighbour("Surf", 0.95, "v_Surf_g03_c04", "/d/v_Surf_g03_c04.avi")]
    again = collapse([*collapsed, *window], k=1)
    assert [(n.clip_id, n.score, n.near_copies) for n in again] == [
        ("v_Surf_g03_c04", 0.95, ("v_Surf_g03_c01", "v_Surf_g03_c02", "v_Surf_g03_c03"))
    ]
    assert source_group("Surf", "/x/my_clip.mp4") == "/x/my_clip.mp4"


def test_search_video_decodes_a_file_and_a_still_image(built, shapes_base, tmp_path):
    index, encoder = built
    cache = FrameCache(prepared_shapes(shapes_base))
    row = cache.rows("test")[1]
    result = search_video(index, encoder, row.path, k=3)
    assert result.top_label == row.label and len(result.query_times_s) == 4
    assert all(n.thumbnail and cv2.imread(n.thumbnail) is not None for n in result.neighbours)
    still = tmp_path / "still.png"
    cv2.imwrite(str(still), cv2.cvtColor(np.asarray(cache.load_frames(row.clip_id))[0, 1], cv2.COLOR_RGB2BGR))
    assert search_video(index, encoder, still, k=3).top_label == row.label


def test_cli_search_prints_json_and_errors_exit_1(built, shapes_base, capsys):
    index, _ = built
    row = FrameCache(prepared_shapes(shapes_base)).rows("test")[2]
    assert main(["search", row.path, "--k", "4", "--json", "--index-dir", str(index.root)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert len(payload["neighbours"]) == 4 and payload["neighbours"][0]["label"] == row.label
    assert set(payload["neighbours"][0]) == {
        "clip_id", "label", "score", "frame_time_s", "thumbnail", "source_path", "near_copies"
    }  # fmt: skip
    assert run_cli(main, ["search", "/no/such/video.avi", "--index-dir", str(index.root)]) == 1
    assert "no such file" in capsys.readouterr().err


def test_motion_dataset_index_finds_each_clip_itself(prepared_synthetic, tmp_path):
    """On the shared motion set (classes not separable per frame) a clip still finds itself."""
    encoder = get_encoder(TEST_ENCODER)
    index = build_frame_index(prepared_synthetic, tmp_path / "motion_index", encoder, frames_per_clip=1)
    cache = FrameCache(prepared_synthetic)
    for row in cache.rows("train")[::9]:
        top = search_clip(index, encoder, cached_clip_frames(cache, row, 1)[0], k=1).neighbours[0]
        assert top.clip_id == row.clip_id and top.score == pytest.approx(1.0, abs=1e-4)


def test_cli_builds_evaluates_adds_and_removes(shapes_base, tmp_path, capsys):
    prepared = prepared_shapes(shapes_base)
    index_dir = str(tmp_path / "cli_index")
    common = ["--index-dir", index_dir]
    assert main(["frames", "--data", str(prepared), "--encoder", TEST_ENCODER, "--frames-per-clip", "1", *common]) == 0
    assert "indexed 24 frames of 24 clips (4 classes)" in capsys.readouterr().out
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--data", str(prepared), "--k", "3", "--out", str(out), *common]) == 0
    report = json.loads(out.read_text())
    assert report["num_samples"] == 16 and report["k"] == 3 and report["accuracy"] >= 0.75
    video = FrameCache(prepared).rows("test")[0].path
    assert main(["add", "--label", "Mine", video, *common]) == 0
    assert "index holds 25 frames" in capsys.readouterr().out
    assert main(["remove", Path(video).stem, *common]) == 0
    assert "removed 1 frame vector(s) of 1 clip(s); index holds 24 frames" in capsys.readouterr().out
