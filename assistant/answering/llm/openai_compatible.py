"""Any OpenAI-compatible chat endpoint through LangChain's ``ChatOpenAI``, set up like Gemini.

Practitioners already run a model server: OpenAI itself, Ollama (``http://localhost:11434/v1``),
llama.cpp's ``llama-server``, vLLM, LM Studio. They all speak ``POST /v1/chat/completions`` with
server-sent events, so one client reaches every one of them. Like Gemini it gets one attempt
and a short timeout (the offline answer is better than a hung chat) and the full prompt.

The key is optional: local servers ignore it, but the OpenAI client refuses to start without
one, so a placeholder is sent when only a base URL is configured. Ollama needs nothing more:
``langchain-ollama`` would add Ollama's own options (``num_ctx``, ``keep_alive``), none of which
the prompt needs (about 1,500 tokens fits Ollama's default context), so it has no backend of its own.
"""

from langchain_core.language_models import BaseChatModel

from assistant.answering.llm.writer import WRITERS, AnswerWriter, ChatBackend
from core.errors import LLMError
from core.settings import Settings

# Sent when the server needs no key (Ollama, llama-server): the client will not start without one.
NO_KEY = "not-needed"


def openai_configured(settings: Settings) -> bool:
    """A key (hosted OpenAI) or a base URL (any other server) is what makes the route usable."""
    return bool(settings.openai_api_key or settings.openai_base_url)


def openai_chat_model(settings: Settings) -> BaseChatModel:
    if not openai_configured(settings):
        raise LLMError(
            "The OpenAI-compatible writer needs a server: set ACTIVITY_OPENAI_BASE_URL "
            "(e.g. http://localhost:11434/v1 for Ollama) or OPENAI_API_KEY, or choose --llm offline."
        )
    # Imported here: the client library takes a second to import and only this backend needs it.
    from langchain_openai import ChatOpenAI

    try:
        return ChatOpenAI(
            model=settings.openai_model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key or NO_KEY,
            timeout=settings.llm_timeout_s,
            max_retries=0,
            temperature=0.2,
            # Usage reports need `stream_options`, which some compatible servers reject.
            stream_usage=False,
        )
    except ValueError as error:
        raise LLMError(f"The OpenAI-compatible client could not be set up: {error}") from error


def openai_backend(settings: Settings) -> ChatBackend:
    model = openai_chat_model(settings)
    name = f"{settings.openai_model} at {settings.openai_base_url or 'OpenAI'}"
    return ChatBackend("openai", name, model, settings.openai_api_key)


WRITERS.add("openai", AnswerWriter(openai_backend, configured=openai_configured, auto_rank=1))
