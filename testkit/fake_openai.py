"""A loopback HTTP server that plays an OpenAI-compatible chat endpoint for the real ``ChatOpenAI``.

It answers ``POST /v1/chat/completions`` the way OpenAI, Ollama's ``/v1``, llama-server and vLLM
do: server-sent events (``data: {chunk}`` lines, then ``data: [DONE]``) when the request asks to
stream, one JSON body otherwise. ``reply`` is the list of chunks it streams; every request is
recorded (path, ``Authorization`` header, JSON body), and so is the moment each streamed chunk
left the server, so tests see what reaches the server and benchmarks can time the client's
share of the first token. Used by the tests and by ``benchmarks/llm.py``.
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

from testkit.loopback_http import JsonRequestHandler, loopback_server, serving

MODEL = "test-model"
REPLY_CHUNKS = ["The clip shows **Fall** ", "with high confidence, ", "as [kb/fall.md § How it looks on video] says."]
# What each failure mode answers: (HTTP status, OpenAI-style error body).
FAILURES = {
    "unauthorized": (401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}),
    "missing_model": (404, {"error": {"message": f"model '{MODEL}' not found", "type": "not_found_error"}}),
    "error": (500, {"error": {"message": "model overloaded", "type": "server_error"}}),
}


class FakeOpenAI:
    """``mode``: ``ok`` (stream ``reply``), a key of ``FAILURES`` (that HTTP error), or ``slow``
    (answers nothing for ``slow_s`` seconds). ``chunk_delay_s`` paces the streamed chunks."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.reply = list(REPLY_CHUNKS)
        self.slow_s = 3.0
        self.chunk_delay_s = 0.02
        self.requests: list[dict] = []
        self.sent_at: list[float] = []  # perf_counter when each streamed chunk was written
        fake = self

        class Handler(JsonRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.read_json()
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                try:
                    if fake.mode in FAILURES:
                        self.send_json(*FAILURES[fake.mode])
                    elif fake.mode == "slow":
                        time.sleep(fake.slow_s)
                        self.send_json(200, _completion("too late"))
                    elif not self.path.endswith("/chat/completions"):
                        self.send_json(404, {"error": {"message": f"no route {self.path}"}})
                    elif body.get("stream"):
                        self._stream(body.get("model", MODEL))
                    else:
                        self.send_json(200, _completion("".join(fake.reply)))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

            def _stream(self, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                role = {"role": "assistant", "content": ""}
                events = [_chunk(model, role, None)]
                events += [_chunk(model, {"content": text}, None) for text in fake.reply]
                events.append(_chunk(model, {}, "stop"))
                for event in events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    fake.sent_at.append(time.perf_counter())
                    time.sleep(fake.chunk_delay_s)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.server = loopback_server(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def reset(self, reply: list[str] | None = None) -> None:
        self.mode, self.requests, self.sent_at, self.reply = "ok", [], [], list(reply or REPLY_CHUNKS)

    @staticmethod
    def prompt_text(request: dict) -> str:
        return "\n".join(str(message.get("content", "")) for message in request["body"].get("messages", []))


def _chunk(model: str, delta: dict, finish_reason: str | None) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _completion(text: str) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def running_fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    with serving(fake.server):
        yield fake
