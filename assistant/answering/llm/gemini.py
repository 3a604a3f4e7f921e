"""Gemini through LangChain's ``ChatGoogleGenerativeAI``, set up to fail fast.

The client retries six times (about 34 s) by default; an assistant that hangs that long is
worse than the offline answer it falls back to, so it gets one attempt and a short timeout.
``base_url`` points it at any compatible server (tests run a local one on 127.0.0.1).
"""

from langchain_core.language_models import BaseChatModel

from assistant.answering.llm.writer import WRITERS, AnswerWriter, ChatBackend
from core.errors import LLMError
from core.settings import Settings


def gemini_chat_model(settings: Settings) -> BaseChatModel:
    if not settings.google_api_key:
        raise LLMError("Gemini needs an API key: set GOOGLE_API_KEY (or GEMINI_API_KEY), or choose --llm offline.")
    # Imported here: the client library takes seconds to import and only this backend needs it.
    from langchain_google_genai import ChatGoogleGenerativeAI

    try:
        return ChatGoogleGenerativeAI(
            model=settings.gemini_model,
            google_api_key=settings.google_api_key,
            base_url=settings.gemini_base_url,
            timeout=settings.llm_timeout_s,
            max_retries=1,
            temperature=0.2,
        )
    except ValueError as error:
        raise LLMError(f"Gemini client could not be set up: {error}") from error


def gemini_backend(settings: Settings) -> ChatBackend:
    model = gemini_chat_model(settings)
    return ChatBackend("gemini", f"Gemini ({settings.gemini_model})", model, settings.google_api_key)


WRITERS.add("gemini", AnswerWriter(gemini_backend, configured=lambda settings: bool(settings.google_api_key)))
