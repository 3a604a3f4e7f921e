"""Answer writers behind one interface: a LangChain chat model, or ``None`` for the offline writer."""

from assistant.answering.llm.backend import provider_names, resolve_provider, select_backend
from assistant.answering.llm.writer import OFFLINE, ChatBackend

__all__ = ["OFFLINE", "ChatBackend", "provider_names", "resolve_provider", "select_backend"]
