"""Choose the answer writer from the settings: Gemini, an OpenAI-compatible server, a local GGUF
model, the offline writer, or any other writer registered in this package (``writer.WRITERS``).

``auto`` means Gemini when its API key is configured, else an OpenAI-compatible server when one
is configured (a key or a base URL), else the offline writer, so a fresh install answers without
any account or download: each writer says whether it is configured and where auto ranks it.
"""

from assistant.answering.llm.writer import WRITERS, ChatBackend
from core.cli import GlobalOption
from core.settings import Settings


def provider_names() -> tuple[str, ...]:
    return ("auto", *WRITERS.names())


def llm_options() -> tuple[GlobalOption, ...]:
    """``--llm``, its choices the registered writers."""
    help_text = "answer writer (default: auto)"
    return (GlobalOption("--llm", "llm_provider", {"choices": provider_names(), "help": help_text}),)


def resolve_provider(settings: Settings, provider: str | None = None) -> str:
    provider = provider or settings.llm_provider
    if provider != "auto":
        return provider
    ranked = sorted((writer.auto_rank, name) for name, writer in WRITERS.items() if writer.configured)
    return next(name for _, name in ranked if WRITERS.get(name).configured(settings))


def select_backend(settings: Settings, provider: str | None = None) -> ChatBackend:
    """The configured backend; raises LLMError when it cannot be set up (no key, not installed, unknown name)."""
    return WRITERS.get(resolve_provider(settings, provider)).build(settings)
