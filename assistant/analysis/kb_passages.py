"""Which knowledge-base passages an answer gets: few, and the ones that explain the verdict.

For a clip: the leading label's description, how it looks on video and what it is confused
with (the sections an explanation cites), plus how the runner-up candidates look, so the
answer can say how to tell them apart. For a follow-up question: the passages closest to the
question, then the clip's own. A small, fixed budget keeps prompts short and answers focused.
A knowledge base that cannot be read (a Chroma server that went down) costs the answer its
passages, not the answer: it comes without them and says why.
"""

import logging
from collections.abc import Iterable, Sequence

from assistant.evidence import Evidence, KbPassage, LabelScore
from core.errors import KnowledgeBaseError
from indexing.kb.knowledge_base import KnowledgeBase, Passage

log = logging.getLogger(__name__)

LEADER_SECTIONS = ("what it is", "how it looks on video", "often confused with")
RUNNER_UP_SECTION = "how it looks on video"
RUNNER_UP_MIN = 0.05
MAX_PASSAGES = 6
QUESTION_PASSAGES = 3  # from each of two searches: about the clip's candidates, and anywhere


def to_evidence(kb: KnowledgeBase, passage: Passage) -> KbPassage:
    """Files are named as the user sees them (``kb/surfing.md``), which is what answers cite."""
    return KbPassage(
        file=f"{kb.kb_dir.name}/{passage.file}",
        section=passage.section,
        label=passage.label,
        text=passage.text,
        score=passage.score,
    )


def _sections(passages: Iterable[Passage], label: str, wanted: Sequence[str]) -> list[Passage]:
    own = [p for p in passages if p.label == label]
    chosen = [p for name in wanted for p in own if p.section.lower() == name]
    return chosen or own[: len(wanted)]


def unique(passages: Iterable[KbPassage], limit: int = MAX_PASSAGES) -> list[KbPassage]:
    seen, kept = set(), []
    for passage in passages:
        key = (passage.file, passage.section, passage.text)
        if key not in seen:
            seen.add(key)
            kept.append(passage)
    return kept[:limit]


def unavailable_note(error: KnowledgeBaseError) -> str:
    log.warning("answering without the knowledge base: %s", error)
    return f"This answer cites no knowledge-base passages: the knowledge base could not be read. {error}"


def passages_for_clip(
    kb: KnowledgeBase, leader: str | None, others: Sequence[str]
) -> tuple[list[KbPassage], list[str]]:
    """(passages, notes) for the leading label and up to two other candidates.

    Notes name a leading label that has no KB file, so the answer can say what to add, or say
    that the KB could not be read at all.
    """
    if leader is None:
        return [], []
    try:
        return _clip_passages(kb, leader, others)
    except KnowledgeBaseError as error:
        return [], [unavailable_note(error)]


def _clip_passages(kb: KnowledgeBase, leader: str, others: Sequence[str]) -> tuple[list[KbPassage], list[str]]:
    known = kb.entries()
    notes = []
    chosen: list[Passage] = []
    if leader in known:
        chosen += _sections(kb.passages_for_label(leader, k=12), leader, LEADER_SECTIONS)
    else:
        notes.append(f"The knowledge base has no file for {leader}; add kb/<name>.md with `label: {leader}`.")
    for label in [label for label in others if label != leader and label in known][:2]:
        chosen += _sections(kb.passages_for_label(label, k=12), label, [RUNNER_UP_SECTION])
    return unique(to_evidence(kb, p) for p in chosen), notes


def runners_up(fused: Sequence[LabelScore]) -> list[str]:
    """Candidates after the first that are worth explaining (at least 5%)."""
    return [item.label for item in fused[1:3] if item.probability >= RUNNER_UP_MIN]


def passages_for_question(kb: KnowledgeBase | None, question: str, evidence: Evidence) -> list[KbPassage]:
    """Passages closest to the question (about this clip, or anywhere in the KB), then the clip's own.

    The clip's candidate files are searched with the leading label prefixed, so "how is it
    different from a slide?" finds how *this* activity differs from a slide; a plain search
    over the whole KB catches questions about other activities. Both are merged by score.
    """
    if kb is None:
        return list(evidence.kb_passages)
    candidates = evidence.candidate_labels[:3]
    try:
        about_clip = (
            kb.search(f"{candidates[0]}: {question}", QUESTION_PASSAGES, labels=candidates) if candidates else []
        )
        anywhere = kb.search(question, QUESTION_PASSAGES)
    except KnowledgeBaseError as error:
        log.warning("follow-up answered with the clip's passages only: %s", error)
        return list(evidence.kb_passages)
    found = sorted([*about_clip, *anywhere], key=lambda passage: -passage.score)
    return unique([*(to_evidence(kb, p) for p in found), *evidence.kb_passages])
