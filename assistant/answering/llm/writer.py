"""What writes an answer (a chat model, or the offline rules) and the table of answer writers.

A file in ``assistant/answering/llm/`` defines a writer and registers it under the name ``--llm``
takes (``WRITERS.add("gemini", AnswerWriter(...))``); ``backend.select_backend`` looks it up.
"""

from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from core.errors import LLMError
from core.registry import Registry
from core.settings import Settings


@dataclass(frozen=True)
class ChatBackend:
    """``model`` is None for the offline writer, which needs the evidence, not a prompt;
    ``secret`` (the API key) is never shown in an error note."""

    provider: str
    name: str
    model: BaseChatModel | None = None
    secret: str | None = None


OFFLINE = ChatBackend("offline", "offline answerer")


@dataclass(frozen=True)
class AnswerWriter:
    """``build`` sets the writer up (LLMError when it cannot: no key, not installed); under ``--llm auto``
    the writers with ``configured`` are tried by ``auto_rank``, lowest first, and the first configured
    one answers (None: never chosen by auto)."""

    build: Callable[[Settings], ChatBackend]
    configured: Callable[[Settings], bool] | None = None
    auto_rank: int = 0


WRITERS: Registry[AnswerWriter] = Registry("answer writer", "assistant.answering.llm", LLMError)
