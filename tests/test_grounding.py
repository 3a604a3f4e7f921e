"""The grounding check on real evidence: crafted bad answers are all caught, through the real
Gemini client (``testkit/fake_gemini.py`` returns them), and trusted answers all pass."""

import shutil

import pytest

from assistant.analysis.kb_passages import passages_for_question
from assistant.answering.chain import Replacement, collect_answer, known_activities
from assistant.answering.grounding import check_answer, grounds_for, named_activities
from assistant.evidence import Evidence
from assistant.runtime.resources import Resources
from assistant.service import DEFAULT_QUESTION, Assistant
from core.settings import Settings
from testkit.crafted_answers import BAD_ANSWER_NAMES, bad_answers, good_answer
from testkit.fake_gemini import running_fake_gemini

# A KB activity with no trained class and no example clip: an answer about a motion clip that
# names it has made it up.
JUGGLE = (
    "---\nlabel: Juggle\naliases: [juggling, keepy-uppy]\nconfused_with: []\n---\n"
    "# Juggle\n\n## What it is\n\nBalls in the air.\n"
)
NOTE = "> **Note:** the model's answer (Gemini (gemini-test)) was withheld: "


@pytest.fixture(scope="module")
def gemini():
    with running_fake_gemini() as fake:
        yield fake


@pytest.fixture(scope="module")
def juggle_settings(tmp_path_factory, assistant_settings) -> Settings:
    """The test data dir, with one more KB file (Juggle) that no clip, class or index label has."""
    root = tmp_path_factory.mktemp("juggle")
    kb = root / "kb"
    shutil.copytree(assistant_settings.kb_dir, kb)
    (kb / "juggle.md").write_text(JUGGLE, encoding="utf-8")
    data = root / "var"
    shutil.copytree(assistant_settings.data_dir, data, ignore=shutil.ignore_patterns("chroma"))
    return assistant_settings.model_copy(update={"data_dir": data, "kb_dir": kb})


@pytest.fixture(scope="module")
def juggle_resources(juggle_settings) -> Resources:
    return Resources.load(juggle_settings)


@pytest.fixture(scope="module")
def fall_evidence(juggle_settings, juggle_resources, query_clips) -> Evidence:
    evidence = Assistant(juggle_settings, resources=juggle_resources).analyse(query_clips["Fall"])
    assert evidence.verdict.label == "Fall" and not evidence.verdict.is_unknown
    return evidence


@pytest.fixture(scope="module")
def activities(juggle_resources) -> dict[str, tuple[str, ...]]:
    return known_activities(juggle_resources.kb)


def test_known_activities_come_from_the_kb_with_their_aliases(activities, fall_evidence):
    assert activities["Juggle"] == ("juggling", "keepy-uppy")
    assert set(activities) == {"Fall", "Oscillate", "Rotate", "Slide", "Juggle"}
    grounds = grounds_for(fall_evidence, fall_evidence.kb_passages, activities)
    assert "Juggle" not in grounds.grounded
    assert {"Fall", "Slide"} <= grounds.grounded
    # A longer name hides the shorter one inside it, and names match whole words only.
    terms = (("sky diving", "SkyDiving"), ("diving", "Diving"))
    assert named_activities("Sky diving, not diving; skydivingx", terms) == [(0, "SkyDiving"), (16, "Diving")]


@pytest.mark.parametrize("name", BAD_ANSWER_NAMES)
def test_crafted_bad_answer_streams_then_is_replaced_by_the_offline_answer(
    name, gemini, juggle_settings, juggle_resources, fall_evidence
):
    evidence, answer, reason = bad_answers(fall_evidence, invented_activity="juggling")[name]
    evidence = evidence.model_copy(deep=True)
    third = len(answer) // 3
    gemini.reset([answer[:third], answer[third : 2 * third], answer[2 * third :]])
    assistant = gemini.assistant(juggle_settings, juggle_resources)
    chunks = list(assistant.answer_stream(DEFAULT_QUESTION, evidence))
    # The model's words streamed as they came, then one chunk replaced them.
    assert "".join(chunks[:-1]) == answer
    assert isinstance(chunks[-1], Replacement)
    final = collect_answer(chunks)
    note = final.splitlines()[0]
    assert note.startswith(NOTE) and reason in note, note
    assert note.endswith("Below is the offline answer instead.")
    assert "*Offline answerer" in final and answer not in final
    check = evidence.answer_check
    assert check.writer == "Gemini (gemini-test)" and not check.passed
    assert any(reason in problem for problem in check.problems), check.problems


def test_grounded_answer_streams_unchanged_and_is_recorded_as_passed(
    gemini, juggle_settings, juggle_resources, fall_evidence
):
    evidence = fall_evidence.model_copy(deep=True)
    answer = good_answer(evidence)
    gemini.reset([answer[:40], answer[40:]])
    assistant = gemini.assistant(juggle_settings, juggle_resources)
    chunks = list(assistant.answer_stream(DEFAULT_QUESTION, evidence))
    assert chunks == [answer[:40], answer[40:]]
    assert not any(isinstance(chunk, Replacement) for chunk in chunks)
    assert evidence.answer_check.passed and evidence.answer_check.problems == []
    # The record travels with the evidence (UI, --json).
    assert Evidence.model_validate_json(evidence.model_dump_json()).answer_check == evidence.answer_check


def test_offline_answers_pass_the_check_for_every_clip(assistant_settings, assistant_resources, query_clips):
    """The rule-based writer is trusted; a check that flagged it would be wrong, not strict."""
    assistant = Assistant(assistant_settings, resources=assistant_resources)
    activities = known_activities(assistant_resources.kb)
    for label, path in query_clips.items():
        evidence = assistant.analyse(path)
        answer = assistant.answer(DEFAULT_QUESTION, evidence)
        assert check_answer(answer, grounds_for(evidence, evidence.kb_passages, activities)) == [], label
        followup = assistant.answer(
            f"How does {label} look on video?", evidence, [("user", "hi"), ("assistant", "hello")]
        )
        passages = passages_for_question(assistant_resources.kb, f"How does {label} look on video?", evidence)
        problems = check_answer(followup, grounds_for(evidence, passages, activities), is_followup=True)
        assert problems == [], (label, problems)
