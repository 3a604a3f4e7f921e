"""Another activity filmed in the hall of one the library holds (``testkit.sports_hall``), through the product.

The library is what a few-shot user builds: 3 example recordings each of Dribble (in a hall),
Swim (a pool) and Golf (a lawn), added to an empty data folder. Questions are new recordings
filmed elsewhere (another camera: colour cast, crop, JPEG 40), answered by ``gather_evidence``.
Volley is filmed in Dribble's hall with another motion: every frame shows the hall, a player and
a ball, so the segment means alone (what shipped before) match it to Dribble about as well as
new recordings of Dribble and name it; the changes between segments (what moved) do not.
"""

import dataclasses

import numpy as np
import pytest

from assistant.analysis.gather import gather_evidence
from assistant.fusion import open_set_score
from assistant.jobs.example_clips import add_example_clips
from assistant.runtime.calibration import with_open_set_floors
from assistant.runtime.open_set_pooling import library_with_floor
from assistant.runtime.resources import Resources
from assistant.runtime.segment_support import in_one_space, segment_means
from core.settings import Settings
from testkit.sports_hall import recording
from testkit.synthetic import write_opencv

LIBRARY = ("Dribble", "Swim", "Golf")
EXAMPLES = 3  # recordings per activity
QUESTIONS = 4  # new recordings per activity asked


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """Per pooling, per activity asked: [(the name said or None, the leader's open-set score)]; the floor said."""
    root = tmp_path_factory.mktemp("sports-hall")
    rng = np.random.default_rng(0)
    settings = Settings(data_dir=root / "var", kb_dir=root / "no-kb", llm_provider="offline")
    for label in LIBRARY:
        for n in range(EXAMPLES):
            add_example_clips(settings, [write_opencv(root / f"{label}{n}.avi", recording(label, rng))], label)
    shipped = Resources.load(settings)
    means, floor = library_with_floor(shipped.index, in_one_space(segment_means))
    means_only = dataclasses.replace(shipped, segments=means, fusion=with_open_set_floors(shipped.fusion, floor))
    questions = {
        label: [
            write_opencv(root / f"new_{label}{n}.avi", recording(label, rng, elsewhere=True)) for n in range(QUESTIONS)
        ]
        for label in (*LIBRARY, "Volley")
    }

    def said(resources: Resources) -> dict[str, list[tuple[str | None, float]]]:
        out = {}
        for label, paths in questions.items():
            out[label] = []
            for path in paths:
                evidence = gather_evidence(path, resources, settings)
                support = {s.label: s.probability for s in evidence.retrieval.support}
                out[label].append((evidence.verdict.label, open_set_score(support, evidence.fused[0].label)))
        return out

    return {"shipped": said(shipped), "means only": said(means_only), "floor": shipped.fusion.open_set}


def test_another_activity_in_the_same_hall_is_called_unknown(answers):
    assert "the segments and the changes between them" in answers["floor"]  # the library keeps the changes
    assert [name for name, _ in answers["shipped"]["Volley"]] == [None] * QUESTIONS


def test_new_recordings_are_named_right_or_called_unknown_never_another_name(answers):
    shipped = answers["shipped"]
    assert all(name in (label, None) for label in LIBRARY for name, _ in shipped[label]), shipped
    for label in ("Swim", "Golf"):  # each alone in its place: named
        assert [name for name, _ in shipped[label]] == [label] * QUESTIONS, shipped[label]
    assert any(name == "Dribble" for name, _ in shipped["Dribble"]), shipped["Dribble"]


def test_what_moved_separates_the_look_alike_that_the_segment_means_cannot(answers):
    """The segment means alone name most Volley clips Dribble and score them among Dribble's own new recordings;
    with the changes every Volley clip scores below the typical new recording of Dribble."""

    def scores(pooling: str, label: str) -> np.ndarray:
        return np.array([score for _, score in answers[pooling][label]])

    means_only = answers["means only"]["Volley"]
    assert sum(name == "Dribble" for name, _ in means_only) >= QUESTIONS // 2, means_only
    assert scores("means only", "Volley").max() >= scores("means only", "Dribble").min()
    assert scores("shipped", "Volley").max() < np.median(scores("shipped", "Dribble"))
