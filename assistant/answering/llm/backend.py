"""Choose the answer writer from the settings: Gemini, a local GGUF model, or the offline writer.

``auto`` means Gemini when an API key is configured and the offline writer otherwise, so a
fresh install answers without any account or download.
"""

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from assistant.answering.llm.gemini import gemini_chat_model
from assistant.answering.llm.local import local_chat_model
from core.cli import LLM_PROVIDERS
from core.settings import Settings

PROVIDERS = LLM_PROVIDERS


@dataclass(frozen=True)
class ChatBackend:
    """``model`` is None for the offline writer, which needs the evidence, not a prompt."""

    provider: str
    name: str
    model: BaseChatModel | None = None


OFFLINE = ChatBackend("offline", "offline answerer")


def resolve_provider(settings: Settings, provider: str | None = None) -> str:
    provider = provider or settings.llm_provider
    if provider == "auto":
        return "gemini" if settings.google_api_key else "offline"
    return provider


def select_backend(settings: Settings, provider: str | None = None) -> ChatBackend:
    """The configured backend; raises LLMError when it cannot be set up (no key, not installed)."""
    provider = resolve_provider(settings, provider)
    if provider == "gemini":
        return ChatBackend("gemini", f"Gemini ({settings.gemini_model})", gemini_chat_model(settings))
    if provider == "local":
        model = local_chat_model(settings)
        return ChatBackend("local", f"local model ({model.model_path})", model)
    return OFFLINE
