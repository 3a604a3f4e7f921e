"""Choose the answer writer from the settings: Gemini, an OpenAI-compatible server, a local GGUF
model, or the offline writer.

``auto`` means Gemini when its API key is configured, else an OpenAI-compatible server when one
is configured (a key or a base URL), else the offline writer, so a fresh install answers without
any account or download.
"""

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from assistant.answering.llm.gemini import gemini_chat_model
from assistant.answering.llm.local import local_chat_model
from assistant.answering.llm.openai_compatible import openai_chat_model, openai_configured
from core.cli import LLM_PROVIDERS
from core.settings import Settings

PROVIDERS = LLM_PROVIDERS


@dataclass(frozen=True)
class ChatBackend:
    """``model`` is None for the offline writer, which needs the evidence, not a prompt;
    ``secret`` (the API key) is never shown in an error note."""

    provider: str
    name: str
    model: BaseChatModel | None = None
    secret: str | None = None


OFFLINE = ChatBackend("offline", "offline answerer")


def resolve_provider(settings: Settings, provider: str | None = None) -> str:
    provider = provider or settings.llm_provider
    if provider == "auto":
        if settings.google_api_key:
            return "gemini"
        return "openai" if openai_configured(settings) else "offline"
    return provider


def select_backend(settings: Settings, provider: str | None = None) -> ChatBackend:
    """The configured backend; raises LLMError when it cannot be set up (no key, not installed)."""
    provider = resolve_provider(settings, provider)
    if provider == "gemini":
        return ChatBackend(
            "gemini", f"Gemini ({settings.gemini_model})", gemini_chat_model(settings), settings.google_api_key
        )
    if provider == "openai":
        where = settings.openai_base_url or "OpenAI"
        name = f"{settings.openai_model} at {where}"
        return ChatBackend("openai", name, openai_chat_model(settings), settings.openai_api_key)
    if provider == "local":
        model = local_chat_model(settings)
        return ChatBackend("local", f"local model ({model.model_path})", model)
    return OFFLINE
