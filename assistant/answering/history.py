"""Chat history in whatever shape the caller keeps it, as LangChain messages.

Gradio 6 sends ``{"role", "content"}`` dicts whose content may be a list of parts; the CLI
and tests use ``(role, text)`` pairs. Only the text reaches the model.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

# A long chat must not crowd the evidence out of the model's context.
MAX_TURNS = 12


def content_text(content: Any) -> str:
    """Text of a message content: a string, a part dict with ``text``, or a list of either."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return str(content.get("text") or "")
    if isinstance(content, Iterable):
        return "\n".join(text for part in content if (text := content_text(part)))
    return str(content)


def to_messages(history: Iterable[Any] | None) -> list[BaseMessage]:
    """User and assistant turns as Human/AI messages; other roles and empty turns are dropped."""
    messages: list[BaseMessage] = []
    for turn in history or []:
        if isinstance(turn, BaseMessage):
            messages.append(turn)
            continue
        role, content = (turn.get("role"), turn.get("content")) if isinstance(turn, Mapping) else turn
        text = content_text(content).strip()
        if not text:
            continue
        if role == "user":
            messages.append(HumanMessage(text))
        elif role == "assistant":
            messages.append(AIMessage(text))
    return messages[-MAX_TURNS:]
