"""The real ``ChatGoogleGenerativeAI`` client against a local HTTP server that plays Gemini.

The server answers the REST calls the installed client makes (``POST /v1/models/{model}
:generateContent`` and ``:streamGenerateContent?alt=sse``; ``v1beta`` too) and records every
request, so the tests see exactly what reaches the API: the prompt with the evidence, and
what happens on a 500 or a timeout.
"""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.service import DEFAULT_QUESTION, Assistant
from core.settings import Settings

REPLY_CHUNKS = ["The clip shows **Fall** ", "with high confidence, ", "as [kb/fall.md § How it looks on video] says."]
API_KEY = "test-key-not-secret"


class FakeGemini:
    """Records requests; ``mode`` is ``ok``, ``error`` (HTTP 500) or ``slow`` (never answers in time)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append({"path": self.path, "key": self.headers.get("x-goog-api-key"), "body": body})
                if fake.mode == "error":
                    self._send(500, {"error": {"code": 500, "message": "model overloaded", "status": "INTERNAL"}})
                elif fake.mode == "slow":
                    time.sleep(3)
                elif ":streamGenerateContent" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for text in REPLY_CHUNKS:
                        self.wfile.write(f"data: {json.dumps(_candidate(text))}\r\n\r\n".encode())
                        self.wfile.flush()
                        time.sleep(0.02)
                else:
                    self._send(200, _candidate("".join(REPLY_CHUNKS)))

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def prompt_text(self, request: dict) -> str:
        body = request["body"]
        parts = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])]
        parts += [p.get("text", "") for p in body.get("systemInstruction", {}).get("parts", [])]
        return "\n".join(parts)


def _candidate(text: str) -> dict:
    return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]}


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def assistant(gemini, assistant_settings, assistant_resources) -> Assistant:
    gemini.mode, gemini.requests = "ok", []
    settings = assistant_settings.model_copy(
        update={
            "llm_provider": "gemini",
            "google_api_key": API_KEY,
            "gemini_base_url": gemini.url,
            "gemini_model": "gemini-test",
            "llm_timeout_s": 1.0,
        }
    )
    return Assistant(settings, resources=assistant_resources)


@pytest.fixture(scope="module")
def fall_evidence(assistant_settings, assistant_resources, query_clips):
    return Assistant(assistant_settings, resources=assistant_resources).analyse(query_clips["Fall"])


def test_prompt_reaching_gemini_carries_the_evidence_and_the_answer_streams(assistant, gemini, fall_evidence):
    chunks = list(assistant.answer_stream(DEFAULT_QUESTION, fall_evidence))
    assert chunks == REPLY_CHUNKS  # several chunks, passed through as they arrive
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
    history = [("user", DEFAULT_QUESTION), ("assistant", "It is a fall.")]
    answer = assistant.answer("How is it different from a slide?", fall_evidence, history)
    assert answer == "".join(REPLY_CHUNKS)
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


def test_local_backend_without_llama_cpp_is_a_clear_error(assistant_settings, tmp_path):
    import importlib.util

    from assistant.answering.llm import select_backend
    from core.errors import LLMError

    if importlib.util.find_spec("llama_cpp") is not None:
        pytest.skip("llama-cpp-python is installed here")
    with pytest.raises(LLMError, match="pip install"):
        select_backend(assistant_settings.model_copy(update={"local_model_path": tmp_path / "m.gguf"}), "local")
