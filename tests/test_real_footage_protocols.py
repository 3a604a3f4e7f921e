"""The questions ``benchmarks/real.py`` asks cannot flatter: no question is asked of a library that holds its own
recording, an activity left out is left out whole, and "unknown" is the right answer exactly when the library holds
no other recording of the question's activity."""

from pathlib import Path

import numpy as np

from benchmarks.real import (
    Answer,
    Question,
    auroc_with_interval,
    centred_on,
    held_out_questions,
    imagenet_class_segments,
    leave_one_activity_out_questions,
    whitened_on,
)
from indexing.encoders.base import l2_normalise

IN_CLASS = {
    "GolfSwing": [Path("GolfSwing/a.mp4"), Path("GolfSwing/b.mp4")],
    "Swing": [Path("Swing/c.mp4")],
    "Diving": [Path("Diving/d.mp4"), Path("Diving/e.mp4"), Path("Diving/f.mp4")],
}
ADDED = {video: f"clip-{video.stem}" for videos in IN_CLASS.values() for video in videos}
LABEL_OF = {ADDED[video]: label for label, videos in IN_CLASS.items() for video in videos}
OTHERS = [Path("_other/x.mp4"), Path("_other/y.mp4")]


def _library_labels(question) -> set[str]:
    return {LABEL_OF[clip] for clip in ADDED.values() if clip not in question.leave_out}


def test_held_out_never_keeps_a_question_s_own_clip_and_names_only_activities_left_in_the_library():
    questions = held_out_questions(IN_CLASS, ADDED, OTHERS)
    assert len(questions) == 6 + 2
    for question in questions:
        if question.activity != "_other":
            assert ADDED[question.path] in question.leave_out
        library = _library_labels(question)
        assert (question.truth is not None) == (question.activity in library)
        assert question.truth in (None, question.activity)
    assert sum(q.truth is None for q in questions) == 1 + 2  # the single Swing recording and both others
    assert all(q.leave_out == () for q in questions if q.activity == "_other")  # asked of the full library


def test_leave_one_activity_out_removes_the_activity_whole_and_keeps_each_in_class_question_s_clip_out():
    questions = leave_one_activity_out_questions(IN_CLASS, ADDED)
    removed_asked = [q for q in questions if q.truth is None]
    assert sorted(q.path.name for q in removed_asked) == sorted(v.name for vs in IN_CLASS.values() for v in vs)
    for question in questions:
        library = _library_labels(question)
        assert ADDED[question.path] in question.leave_out
        if question.truth is None:
            assert question.activity not in library  # every recording of it gone
        else:
            assert question.truth == question.activity in library
            assert len(library) == len(IN_CLASS) - 1  # one other activity removed whole
    # in-class questions: per removed activity, every recording of each other activity with a mate
    assert sum(q.truth is not None for q in questions) == (2 + 3) + 3 + 2  # removed: Swing, GolfSwing, Diving


def test_the_imagenet_class_score_candidate_pools_unit_class_profiles():
    rng = np.random.default_rng(0)
    frames = rng.random((7, 1280)).astype(np.float32)
    frames /= np.linalg.norm(frames, axis=1, keepdims=True)
    pooled = imagenet_class_segments(frames, 3)
    assert pooled.shape == (3, 1000)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(pooled.sum(axis=1), 0.0, atol=1e-4)  # centred over the classes


def _hall_library(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the shared "sports hall" direction, 3 clips x 8 frames of unit vectors: the hall plus each clip's own
    activity direction and noise)."""
    hall, *activities = np.eye(64, dtype=np.float32)[:4]
    frames = [3 * hall + activity + 0.05 * rng.standard_normal((8, 64)) for activity in activities]
    return hall, l2_normalise(np.concatenate(frames).astype(np.float32))


def test_centring_on_the_library_removes_the_direction_every_clip_shares():
    hall, library = _hall_library(np.random.default_rng(1))
    first, second = library[:8], library[8:16]
    raw = segment_cosine(first, second, lambda frames, segments: l2_normalise(frames.mean(axis=0, keepdims=True)))
    pool = centred_on(library)
    assert raw > 0.85  # two activities in one hall look alike
    assert segment_cosine(first, second, pool) < 0.0  # once the hall is removed they do not
    assert np.abs(pool(first, 3) @ hall).max() < 0.2
    np.testing.assert_allclose(np.linalg.norm(pool(first, 3), axis=1), 1.0, rtol=1e-5)


def test_whitening_on_the_library_keeps_unit_segments_and_separates_its_clips():
    _, library = _hall_library(np.random.default_rng(2))
    pool = whitened_on(library)
    assert pool(library[:8], 3).shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(pool(library[:8], 3), axis=1), 1.0, rtol=1e-5)
    assert segment_cosine(library[:8], library[8:16], pool) < 0.0


def segment_cosine(first: np.ndarray, second: np.ndarray, pool) -> float:
    return float((pool(first, 1) @ pool(second, 1).T).item())


def test_the_margin_auroc_judges_each_answer_by_its_own_library_s_floor():
    """Two libraries on different score scales: each separates its in-class questions from its others by its
    floor, but pooled raw scores interleave (the strict library's others outscore the lenient one's in-class)."""

    def answer(truth: str | None, score: float, floor: float) -> Answer:
        return Answer(Question("q", Path("q.mp4"), truth or "_other", truth, ()), truth, score, floor)

    answers = [answer("A", 0.9, 0.8), answer(None, 0.7, 0.8), answer("B", 0.6, 0.5), answer(None, 0.4, 0.5)]
    assert auroc_with_interval(answers, lambda a: a.score).startswith("0.75")
    assert auroc_with_interval(answers, lambda a: a.margin).startswith("1.00")
    assert answer("A", 0.6, None).margin == 0.6  # no floor applied: the score decides alone
