"""The real ``ChatOpenAI`` client (``langchain-openai``) against a loopback server that plays an
OpenAI-compatible chat endpoint (``testkit/fake_openai.py``): what reaches the server, the
streamed answer, timeouts, 4xx and 5xx, and a garbled answer replaced by the offline one."""

import time
from collections.abc import Iterator

import pytest

from assistant.answering.chain import Replacement, collect_answer
from assistant.answering.llm import resolve_provider, select_backend
from assistant.service import DEFAULT_QUESTION, Assistant
from core.errors import LLMError
from core.settings import Settings
from testkit.fake_openai import MODEL, FakeOpenAI, running_fake_openai

API_KEY = "sk-test-not-secret"
# What the default Gemma 3 270M wrote about a real surfing clip (issue 23).
GARBLED = ["**Surf** [kb/golf_swing] = $69, \\begin{CJK}{UTF8}{|c|b|} & \\\\ & ", "\\end{CJK} and the same for Swing."]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with running_fake_openai() as fake:
        yield fake


def openai_settings(settings: Settings, url: str, key: str | None = API_KEY) -> Settings:
    update = {"llm_provider": "openai", "openai_base_url": url, "openai_model": MODEL, "openai_api_key": key}
    return settings.model_copy(update={**update, "llm_timeout_s": 1.0})


@pytest.fixture
def assistant(server, assistant_settings, assistant_resources) -> Assistant:
    server.reset()
    return Assistant(openai_settings(assistant_settings, server.url), resources=assistant_resources)


@pytest.fixture(scope="module")
def fall_evidence(assistant_settings, assistant_resources, query_clips):
    return Assistant(assistant_settings, resources=assistant_resources).analyse(query_clips["Fall"])


def grounded_reply(evidence) -> list[str]:
    return [
        f"The clip shows **{evidence.verdict.label}** ",
        f"({evidence.verdict.confidence:.0%} confidence), ",
        "as [kb/fall.md § How it looks on video] says.",
    ]


def test_the_full_prompt_reaches_the_server_and_the_answer_streams_chunk_by_chunk(assistant, server, fall_evidence):
    server.reset(grounded_reply(fall_evidence))
    evidence = fall_evidence.model_copy(deep=True)
    chunks = list(assistant.answer_stream(DEFAULT_QUESTION, evidence))
    assert chunks == grounded_reply(fall_evidence)  # three chunks, passed on as they arrive
    assert evidence.answer_check.passed and evidence.answer_check.writer == f"{MODEL} at {server.url}"
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == f"Bearer {API_KEY}"
    assert request["body"]["stream"] is True and request["body"]["model"] == MODEL
    assert "stream_options" not in request["body"]  # some compatible servers reject it
    assert [m["role"] for m in request["body"]["messages"]] == ["system", "user"]
    prompt = server.prompt_text(request)  # the same prompt Gemini gets: the evidence as quoted data
    for item in fall_evidence.classifier.top_k:
        assert f'"{item.label}": {item.probability:.3f}' in prompt
    for passage in fall_evidence.kb_passages:
        assert f'file="{passage.file}" section="{passage.section}"' in prompt
    assert "never follow it" in prompt


def test_follow_up_sends_the_history_as_chat_turns(assistant, server, fall_evidence):
    server.reset(grounded_reply(fall_evidence))
    history = [("user", DEFAULT_QUESTION), ("assistant", "It is a fall.")]
    answer = assistant.answer("How is it different from a slide?", fall_evidence.model_copy(deep=True), history)
    assert answer == "".join(grounded_reply(fall_evidence))
    roles = [m["role"] for m in server.requests[-1]["body"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "A fall goes top to bottom; a slide goes left to right." in server.prompt_text(server.requests[-1])


@pytest.mark.parametrize(
    ("mode", "shown"),
    [("unauthorized", "401"), ("missing_model", "404"), ("error", "500"), ("slow", "Timeout")],
)
def test_server_failure_falls_back_to_the_offline_answer_with_a_note(assistant, server, fall_evidence, mode, shown):
    server.mode = mode
    started = time.perf_counter()
    answer = assistant.answer(DEFAULT_QUESTION, fall_evidence.model_copy(deep=True))
    assert time.perf_counter() - started < 5.0  # llm_timeout_s is 1 s
    assert len(server.requests) == 1  # one attempt, no retries
    note = answer.splitlines()[0]
    assert note.startswith(f"> **Note:** {MODEL} at {server.url} could not answer"), note
    assert shown in note
    assert API_KEY not in answer
    assert "*Offline answerer" in answer and "### Fall: " in answer


def test_garbled_answer_is_replaced_by_the_offline_answer(assistant, server, fall_evidence):
    server.reset(GARBLED)
    evidence = fall_evidence.model_copy(deep=True)
    chunks = list(assistant.answer_stream(DEFAULT_QUESTION, evidence))
    assert chunks[:2] == GARBLED and isinstance(chunks[-1], Replacement)
    answer = collect_answer(chunks)
    assert answer.startswith(f"> **Note:** the model's answer ({MODEL} at {server.url}) was withheld: ")
    assert "it does not name the verdict, Fall" in answer.splitlines()[0]
    assert "*Offline answerer" in answer and "CJK" not in answer
    assert evidence.answer_check is not None and not evidence.answer_check.passed


def test_a_keyless_server_is_reached_without_a_key_of_the_users(server, assistant_settings, fall_evidence):
    server.reset(grounded_reply(fall_evidence))
    backend = select_backend(openai_settings(assistant_settings, server.url, key=None))
    assert "".join(chunk.content for chunk in backend.model.stream("Say hello.")) == "".join(
        grounded_reply(fall_evidence)
    )
    assert server.requests[-1]["auth"] == "Bearer not-needed"


def test_auto_keeps_gemini_first_then_an_openai_server_then_offline():
    assert resolve_provider(Settings(google_api_key=None, openai_api_key=None, openai_base_url=None)) == "offline"
    assert resolve_provider(Settings(openai_base_url="http://127.0.0.1:11434/v1")) == "openai"
    assert resolve_provider(Settings(openai_api_key="sk-x")) == "openai"
    assert resolve_provider(Settings(google_api_key="g", openai_api_key="sk-x")) == "gemini"


def test_openai_without_a_server_or_key_is_a_clear_error():
    with pytest.raises(LLMError, match="ACTIVITY_OPENAI_BASE_URL"):
        select_backend(Settings(llm_provider="openai", openai_api_key=None, openai_base_url=None))
