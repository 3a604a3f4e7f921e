"""The shape a small local model's answer must take: a llama.cpp grammar (GBNF) built from the evidence.

Left to write freely, the 135M-270M models garble what they read: asked about a real surfing
clip, Gemma 3 270M wrote LaTeX and CJK debris and another activity's KB cue. So the model does
not write words; it chooses. The answer continues the lead sentence (the verdict and its
confidence, see ``compact_prompt.lead_sentence``) with two or three of the fact sentences below,
in their order, then the sources. Every sentence is written here from the evidence (how the
classifier ranked the verdict, how many similar clips agree, the runners-up, what is missing,
one KB cue quoted whole with its citation), so whatever the model picks is readable and grounded,
and the grammar leaves it nothing else to write: no numbers it could invent, no markup, no KB
text it could splice into another activity's cue. What the model adds is the choice: which
facts answer this question best.
"""

from collections.abc import Sequence
from itertools import combinations

from assistant.answering.llm.offline import (
    LOOKS_SECTION,
    content_lines,
    join_words,
    shorten,
    timeline_labels,
)
from assistant.evidence import Evidence, KbPassage

# Each fact sentence is short enough that three of them fit the token budget (a KB cue is the longest).
CUE_CHARS = 110
RUNNER_UP_MIN = 0.05
MAX_SENTENCES = 3


def _classifier_fact(evidence: Evidence, label: str) -> str | None:
    part = evidence.classifier
    if part is None or not part.top_k:
        return None
    top = part.top_k[0].label
    if top == label:
        return f"The classifier ranks {label} first."
    return f"The classifier prefers {top}, but the combined evidence points to {label}."


def _retrieval_fact(evidence: Evidence) -> str | None:
    part = evidence.retrieval
    if part is None or not part.neighbours or not part.vote:
        return None
    top = part.vote[0].label
    agreeing = sum(n.label == top for n in part.neighbours)
    return f"{agreeing} of the {len(part.neighbours)} most similar library clips show {top}."


def _runners_up_fact(evidence: Evidence, label: str | None) -> str | None:
    others = [c.label for c in evidence.fused[:3] if c.label != label and c.probability >= RUNNER_UP_MIN]
    if not others:
        return None
    if label is None:
        return f"The closest candidates are {join_words(others)}."
    return f"It could also be {' or '.join(others[:2])}, but that is less likely."


def _cue_fact(passage: KbPassage) -> str | None:
    """One KB line, quoted whole with its citation: the model can include it or not, never edit it."""
    lines = content_lines(passage.text)
    if not lines:
        return None
    cue = shorten(lines[0].lstrip("-* "), CUE_CHARS).replace('"', "'")
    if "%" in cue:  # a KB figure would read as a claim about this clip's scores
        return None
    return f'The knowledge base says of {passage.label}: "{cue}" {passage.citation}.'


def fact_sentences(evidence: Evidence, passages: Sequence[KbPassage]) -> list[str]:
    """The sentences an answer may add after the lead, in the order they are said."""
    labels = timeline_labels(evidence)
    verdict = evidence.verdict
    label = None if verdict.is_unknown or not verdict.label else verdict.label
    facts: list[str | None] = []
    if len(labels) > 1:
        facts.append(f"The video was analysed in {len(evidence.timeline)} windows of time.")
    elif label is not None:
        facts.append(_classifier_fact(evidence, label))
    facts += [_retrieval_fact(evidence), _runners_up_fact(evidence, label)]
    if evidence.is_still:
        facts.append("This is a still image, so motion could not be judged.")
    facts += [f"The {m.name} was not available for this answer." for m in evidence.missing]
    looks = [p for p in passages if LOOKS_SECTION in p.section.lower()] or list(passages)
    facts += [_cue_fact(p) for p in looks[:2]]
    return list(dict.fromkeys(fact for fact in facts if fact))


def _literal(text: str) -> str:
    """A GBNF string literal: quotes and backslashes escaped, nothing on another line."""
    escaped = " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def answer_grammar(evidence: Evidence, passages: Sequence[KbPassage]) -> str:
    """GBNF for " <two or three fact sentences, in order>": every choice the model may make."""
    facts = fact_sentences(evidence, passages)
    rules = [f"f{index} ::= {_literal(fact)}" for index, fact in enumerate(facts)]
    sizes = range(min(2, len(facts)), min(MAX_SENTENCES, len(facts)) + 1)
    choices = [
        ' " " '.join(f"f{index}" for index in chosen)
        for size in sizes
        for chosen in combinations(range(len(facts)), size)
    ]
    body = " | ".join(f"({choice})" for choice in choices) if choices else '""'
    return "\n".join([f'root ::= " " ({body})', *rules]) + "\n"
