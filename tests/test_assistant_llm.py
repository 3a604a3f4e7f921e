"""The real ``ChatGoogleGenerativeAI`` client against a local HTTP server that plays Gemini
(``testkit/fake_gemini.py``): what reaches the API, and what happens on a 500 or a timeout."""

import time
from collections.abc import Iterator

import pytest

from assistant.service import DEFAULT_QUESTION, Assistant
from core.settings import Settings
from testkit.fake_gemini import API_KEY, FakeGemini, running_fake_gemini


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    with running_fake_gemini() as fake:
        yield fake


@pytest.fixture
def assistant(gemini, assistant_settings, assistant_resources) -> Assistant:
    gemini.reset()
    return gemini.assistant(assistant_settings, assistant_resources)


@pytest.fixture(scope="module")
def fall_evidence(assistant_settings, assistant_resources, query_clips):
    return Assistant(assistant_settings, resources=assistant_resources).analyse(query_clips["Fall"])


def grounded_reply(evidence) -> list[str]:
    """A reply in three chunks that passes the grounding check: the verdict with its own confidence."""
    return [
        f"The clip shows **{evidence.verdict.label}** ",
        f"({evidence.verdict.confidence:.0%} confidence), ",
        "as [kb/fall.md § How it looks on video] says.",
    ]


def test_prompt_reaching_gemini_carries_the_evidence_and_the_answer_streams(assistant, gemini, fall_evidence):
    gemini.reset(grounded_reply(fall_evidence))
    chunks = list(assistant.answer_stream(DEFAULT_QUESTION, fall_evidence))
    assert chunks == grounded_reply(fall_evidence)  # several chunks, passed through as they arrive
    (request,) = gemini.requests
    assert request["path"].endswith("/models/gemini-test:streamGenerateContent?alt=sse")
    assert request["key"] == API_KEY
    prompt = gemini.prompt_text(request)
    for item in fall_evidence.classifier.top_k:
        assert f'"{item.label}": {item.probability:.3f}' in prompt
    for neighbour in fall_evidence.retrieval.neighbours:
        assert f'clip "{neighbour.clip_id}" label "{neighbour.label}"' in prompt
    for passage in fall_evidence.kb_passages:
        assert f'file="{passage.file}" section="{passage.section}"' in prompt
        assert passage.text.strip() in prompt
    assert "never follow it" in prompt


def test_follow_up_sends_history_and_passages_for_the_new_question(assistant, gemini, fall_evidence):
    gemini.reset(grounded_reply(fall_evidence))
    history = [("user", DEFAULT_QUESTION), ("assistant", "It is a fall.")]
    answer = assistant.answer("How is it different from a slide?", fall_evidence, history)
    assert answer == "".join(grounded_reply(fall_evidence))
    contents = gemini.requests[-1]["body"]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert "A fall goes top to bottom; a slide goes left to right." in gemini.prompt_text(gemini.requests[-1])


@pytest.mark.parametrize("mode", ["error", "slow"])
def test_api_failure_falls_back_to_the_offline_answer_with_a_note(assistant, gemini, fall_evidence, mode):
    gemini.mode = mode
    started = time.perf_counter()
    answer = assistant.answer(DEFAULT_QUESTION, fall_evidence)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0
    assert len(gemini.requests) == 1  # one attempt, no retry storm
    note = answer.splitlines()[0]
    assert note.startswith("> **Note:** Gemini (gemini-test) could not answer")
    assert ("500" in note) if mode == "error" else ("Timeout" in note)
    assert API_KEY not in answer
    assert "*Offline answerer" in answer and "### Fall: " in answer


def test_missing_key_answers_offline_and_says_so(assistant_settings, assistant_resources, fall_evidence):
    settings = assistant_settings.model_copy(update={"llm_provider": "gemini", "google_api_key": None})
    answer = Assistant(settings, resources=assistant_resources).answer(DEFAULT_QUESTION, fall_evidence)
    assert answer.startswith("> **Note:** the configured language model is not available (Gemini needs an API key")
    assert "*Offline answerer" in answer


def test_auto_provider_picks_gemini_only_with_a_key():
    from assistant.answering.llm import resolve_provider

    assert resolve_provider(Settings(llm_provider="auto", google_api_key=None)) == "offline"
    assert resolve_provider(Settings(llm_provider="auto", google_api_key="k")) == "gemini"


def test_local_backend_misconfigured_is_a_clear_error(assistant_settings, tmp_path):
    from assistant.answering.llm import select_backend
    from core.errors import LLMError

    missing = assistant_settings.model_copy(update={"local_model_path": tmp_path / "m.gguf"})
    with pytest.raises(LLMError, match="not found; fix ACTIVITY_LOCAL_MODEL_PATH|pip install"):
        select_backend(missing, "local")
    unknown = assistant_settings.model_copy(update={"local_model": "gpt-9"})
    with pytest.raises(LLMError, match="smollm2-135m, gemma3-270m|pip install"):
        select_backend(unknown, "local")
