"""A local HTTP server that plays the Gemini API for the real ``ChatGoogleGenerativeAI`` client.

It answers the REST calls the installed client makes (``POST /v1/models/{model}
:generateContent`` and ``:streamGenerateContent?alt=sse``; ``v1beta`` too) with ``reply``, a
list of chunks a test sets, and records every request, so tests see exactly what reaches the
API (the prompt with the evidence) and what the assistant does with any reply, a 500 or a
timeout.
"""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

from assistant.service import Assistant
from core.settings import Settings
from testkit.loopback_http import JsonRequestHandler, loopback_server, serving

REPLY_CHUNKS = ["The clip shows **Fall** ", "with high confidence, ", "as [kb/fall.md § How it looks on video] says."]
API_KEY = "test-key-not-secret"


class FakeGemini:
    """``mode`` is ``ok`` (stream ``reply``), ``error`` (HTTP 500) or ``slow`` (never answers in time)."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.reply = list(REPLY_CHUNKS)
        self.requests: list[dict] = []
        fake = self

        class Handler(JsonRequestHandler):
            def do_POST(self) -> None:
                body = self.read_json()
                fake.requests.append({"path": self.path, "key": self.headers.get("x-goog-api-key"), "body": body})
                if fake.mode == "error":
                    self.send_json(500, {"error": {"code": 500, "message": "model overloaded", "status": "INTERNAL"}})
                elif fake.mode == "slow":
                    time.sleep(3)
                elif ":streamGenerateContent" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for text in fake.reply:
                        self.wfile.write(f"data: {json.dumps(_candidate(text))}\r\n\r\n".encode())
                        self.wfile.flush()
                        time.sleep(0.02)
                else:
                    self.send_json(200, _candidate("".join(fake.reply)))

        self.server = loopback_server(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def reset(self, reply: list[str] | None = None) -> None:
        self.mode, self.requests, self.reply = "ok", [], list(reply or REPLY_CHUNKS)

    def prompt_text(self, request: dict) -> str:
        body = request["body"]
        parts = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])]
        parts += [p.get("text", "") for p in body.get("systemInstruction", {}).get("parts", [])]
        return "\n".join(parts)

    def assistant(self, settings: Settings, resources) -> Assistant:
        """An assistant whose Gemini backend is this server, with a short timeout."""
        settings = settings.model_copy(
            update={
                "llm_provider": "gemini",
                "google_api_key": API_KEY,
                "gemini_base_url": self.url,
                "gemini_model": "gemini-test",
                "llm_timeout_s": 1.0,
            }
        )
        return Assistant(settings, resources=resources)


def _candidate(text: str) -> dict:
    return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]}


@contextmanager
def running_fake_gemini() -> Iterator[FakeGemini]:
    fake = FakeGemini()
    with serving(fake.server):
        yield fake
