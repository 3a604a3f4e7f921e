"""The answering chain: question + history + evidence -> prompt -> chat model -> streamed text.

Built with LCEL (``prompt | model | StrOutputParser()``). The offline writer stands in when no
model is configured, and also whenever the model fails in any way (HTTP error, timeout, bad
key, empty reply): the user always gets an answer, with a visible note saying what failed.
Follow-up questions reuse the clip's evidence and add KB passages retrieved for the question.
"""

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable

from assistant.analysis.evidence import Evidence, KbPassage
from assistant.analysis.kb_passages import passages_for_question
from assistant.answering.history import to_messages
from assistant.answering.llm.backend import ChatBackend
from assistant.answering.llm.offline import offline_answer
from assistant.answering.prompt import answer_prompt, prompt_inputs
from indexing.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
_ERROR_CHARS = 300


def build_chain(model: BaseChatModel) -> Runnable:
    return answer_prompt() | model | StrOutputParser()


def failure_note(backend: ChatBackend, error: BaseException, secret: str | None = None) -> str:
    """One visible line naming what failed; never echoes the API key."""
    detail = " ".join(str(error).split())[:_ERROR_CHARS] or "no details"
    if secret:
        detail = detail.replace(secret, "***")
    return (
        f"> **Note:** {backend.name} could not answer ({type(error).__name__}: {detail}). "
        "Below is the offline answer instead."
    )


def answer_stream(
    question: str,
    evidence: Evidence,
    history: Iterable[Any] | None,
    backend: ChatBackend,
    kb: KnowledgeBase | None,
    *,
    secret: str | None = None,
) -> Iterator[str]:
    """Stream the answer; an empty history means the first question about this clip."""
    messages = to_messages(history)
    is_followup = bool(messages)
    passages: list[KbPassage] = (
        passages_for_question(kb, question, evidence) if is_followup else list(evidence.kb_passages)
    )
    if backend.model is None:
        yield from offline_answer(question, evidence, passages, is_followup)
        return
    emitted = False
    try:
        for chunk in build_chain(backend.model).stream(prompt_inputs(question, evidence, passages, messages)):
            if chunk:
                emitted = True
                yield chunk
        if not emitted:
            raise ValueError("the model returned an empty answer")
    except Exception as error:  # any failure of the model or its API: fall back, visibly
        log.warning("%s failed, answering offline: %s: %s", backend.name, type(error).__name__, error)
        yield ("\n\n" if emitted else "") + failure_note(backend, error, secret) + "\n\n"
        yield from offline_answer(question, evidence, passages, is_followup)
