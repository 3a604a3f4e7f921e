"""Answer writers behind one interface: a LangChain chat model, or ``None`` for the offline writer."""

from assistant.answering.llm.backend import OFFLINE, PROVIDERS, ChatBackend, resolve_provider, select_backend

__all__ = ["OFFLINE", "PROVIDERS", "ChatBackend", "resolve_provider", "select_backend"]
