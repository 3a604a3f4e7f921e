"""The answering chain: question + history + evidence -> prompt -> chat model -> streamed text.

Built with LCEL (``prompt | model | StrOutputParser()``). The offline writer stands in when no
model is configured, and also whenever the model fails in any way (HTTP error, timeout, bad
key, empty reply): the user always gets an answer, with a visible note saying what failed.
Follow-up questions reuse the clip's evidence and add KB passages retrieved for the question.

A model's answer streams as it is written (waiting for the whole text would hide a slow
model's progress), then goes through the grounding check. When the check fails, the last chunk
is a ``Replacement``: the offline answer, led by a one-line note saying why the model's answer
was withheld, which readers put in place of everything streamed before it. The check's result
is recorded on the evidence either way.
"""

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable

from assistant.analysis.kb_passages import passages_for_question
from assistant.answering.answer_grammar import answer_grammar
from assistant.answering.compact_prompt import compact_inputs, compact_prompt
from assistant.answering.grounding import check_answer, grounds_for
from assistant.answering.history import to_messages
from assistant.answering.llm.offline import offline_answer
from assistant.answering.llm.writer import ChatBackend
from assistant.answering.prompt import answer_prompt, prompt_inputs
from assistant.evidence import AnswerCheck, Evidence, KbPassage
from indexing.kb.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
_ERROR_CHARS = 300


class Replacement(str):
    """A chunk that replaces everything streamed before it (a model answer that failed its check);
    its leading blank lines are only for readers that cannot replace, like a terminal."""


def collect_answer(chunks: Iterable[str]) -> str:
    """The answer a stream ends with: a ``Replacement`` discards the text before it."""
    text = ""
    for chunk in chunks:
        text = chunk.lstrip() if isinstance(chunk, Replacement) else text + chunk
    return text


def build_chain(model: BaseChatModel, prompt: Runnable | None = None) -> Runnable:
    return (prompt or answer_prompt()) | model | StrOutputParser()


def chain_and_inputs(
    backend: ChatBackend, question: str, evidence: Evidence, passages: list[KbPassage], messages: list
) -> tuple[Runnable, dict]:
    """Local models get the compact prompt (a few facts) and a grammar that lets them only choose
    among fact sentences written from the evidence; Gemini and OpenAI-compatible servers get the full evidence."""
    if backend.provider == "local":
        model = backend.model.bind(grammar=answer_grammar(evidence, passages))
        return build_chain(model, compact_prompt()), compact_inputs(question, evidence, passages, messages)
    return build_chain(backend.model), prompt_inputs(question, evidence, passages, messages)


def failure_note(backend: ChatBackend, error: BaseException, secret: str | None = None) -> str:
    """One visible line naming what failed; never echoes an API key."""
    detail = " ".join(str(error).split())[:_ERROR_CHARS] or "no details"
    for key in (secret, backend.secret):
        if key:
            detail = detail.replace(key, "***")
    return (
        f"> **Note:** {backend.name} could not answer ({type(error).__name__}: {detail}). "
        "Below is the offline answer instead."
    )


def withheld_note(backend: ChatBackend, problems: list[str]) -> str:
    """One line: the model's answer was withheld, and why."""
    return (
        f"> **Note:** the model's answer ({backend.name}) was withheld: {'; '.join(problems)}. "
        "Below is the offline answer instead."
    )


def known_activities(kb: KnowledgeBase | None) -> dict[str, tuple[str, ...]]:
    """Every activity the KB describes, with its aliases: what an answer could name."""
    return {label: entry.aliases for label, entry in kb.entries().items()} if kb is not None else {}


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
    streamed: list[str] = []
    try:
        chain, inputs = chain_and_inputs(backend, question, evidence, passages, messages)
        for chunk in chain.stream(inputs):
            if chunk:
                streamed.append(chunk)
                yield chunk
        if not streamed:
            raise ValueError("the model returned an empty answer")
    except Exception as error:  # any failure of the model or its API: fall back, visibly
        log.warning("%s failed, answering offline: %s: %s", backend.name, type(error).__name__, error)
        yield ("\n\n" if streamed else "") + failure_note(backend, error, secret) + "\n\n"
        yield from offline_answer(question, evidence, passages, is_followup)
        return
    grounds = grounds_for(evidence, passages, known_activities(kb))
    problems = check_answer("".join(streamed), grounds, is_followup=is_followup)
    evidence.answer_check = AnswerCheck(writer=backend.name, passed=not problems, problems=problems)
    if problems:
        log.warning("%s's answer withheld: %s", backend.name, "; ".join(problems))
        offline = "".join(offline_answer(question, evidence, passages, is_followup))
        # Led by a blank line: a terminal, which cannot unprint, shows it below the withheld text.
        yield Replacement("\n\n" + withheld_note(backend, problems) + "\n\n" + offline)
