"""The offline answerer: clear markdown prose written from the evidence by rules, no model.

Most first-time users have no API key, so this is the answer they read. It says what the clip
shows and how sure that is (in words and numbers), why (classifier, neighbour agreement, the
KB's description of how the activity looks), what it could be confused with and how to tell,
what is missing, and where each claim comes from. The same evidence always gives the same text.
KB text is only ever quoted (one block-quote line per cue, markdown headings stripped), so a
KB file cannot change the answer's structure.
"""

import re
from collections.abc import Iterator, Sequence

from assistant.analysis.timeline import dominant_segment_label, labels_by_duration
from assistant.answering.explanation_answer import explanation_blocks, explanation_question
from assistant.answering.llm.writer import OFFLINE, WRITERS, AnswerWriter
from assistant.evidence import Evidence, KbPassage

BANNER = (
    "*Offline answerer: this reply was written from the evidence by the assistant's built-in "
    "rule-based writer, not by a language model.*"
)
LOOKS_SECTION = "how it looks on video"
CONFUSED_SECTION = "often confused with"
_QUOTE_CHARS = 320
_RUNNER_UP_MIN = 0.05


def confidence_words(probability: float) -> str:
    if probability >= 0.8:
        return "high"
    if probability >= 0.6:
        return "fairly high"
    if probability >= 0.4:
        return "moderate"
    return "low"


def percent(probability: float) -> str:
    return f"{probability:.0%}"


def shorten(text: str, limit: int = _QUOTE_CHARS) -> str:
    """At most ``limit`` characters, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def quote(lines: Sequence[str]) -> str:
    """A markdown block quote; heading marks and quote marks at line starts are removed first."""
    cleaned = [shorten(re.sub(r"^[#>\s]+", "", line)) for line in lines]
    return "\n".join(f"> {line}" for line in cleaned if line)


def content_lines(text: str) -> list[str]:
    """Non-empty lines of a passage without markdown headings (the section name is cited instead)."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def paragraphs(text: str) -> list[str]:
    blocks = re.split(r"\n\s*\n", text)
    return [" ".join(content_lines(block)) for block in blocks if content_lines(block)]


def find_passages(passages: Sequence[KbPassage], label: str | None, section: str) -> list[KbPassage]:
    return [p for p in passages if p.label == label and section in p.section.lower()]


def join_words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


class _Citations:
    """Collects what the answer relied on, in first-use order, for the closing Sources line."""

    def __init__(self) -> None:
        self.kb: list[str] = []
        self.clips: list[str] = []

    def cite(self, passage: KbPassage) -> str:
        if passage.citation not in self.kb:
            self.kb.append(passage.citation)
        return passage.citation

    def line(self) -> str | None:
        parts = []
        if self.kb:
            parts.append(", ".join(self.kb))
        if self.clips:
            parts.append("neighbour clips " + ", ".join(code(c) for c in self.clips))
        return "**Sources:** " + "; ".join(parts) + "." if parts else None


def timeline_labels(evidence: Evidence) -> list[str]:
    """The distinct activities of a long video's timeline, in order of first appearance."""
    return list(dict.fromkeys(s.label for s in evidence.timeline if s.label))


def zero_shot_only(evidence: Evidence, label: str | None) -> bool:
    """True when ``label`` was scored by CLIP zero-shot matching alone (no class, no example clips)."""
    return evidence.zero_shot is not None and label in evidence.zero_shot.only_labels


def _heading(evidence: Evidence) -> str:
    labels = timeline_labels(evidence)
    if len(labels) > 1:
        return f"### {len(labels)} activities over time: {', then '.join(labels)}"
    verdict = evidence.verdict
    if verdict.is_unknown:
        return "### Not a known activity"
    if zero_shot_only(evidence, verdict.label):
        return f"### {verdict.label}: a zero-shot match ({percent(verdict.confidence)}), not confirmed"
    return f"### {verdict.label}: {confidence_words(verdict.confidence)} confidence ({percent(verdict.confidence)})"


def _changing_summary(evidence: Evidence) -> str:
    """For a video whose activity changes: the sequence, then which part dominates."""
    steps = join_words(
        [f"{s.label or 'something unknown'} from {s.start_s:.1f} s to {s.end_s:.1f} s" for s in evidence.timeline]
    )
    label, share, confidence = dominant_segment_label(evidence.timeline)
    text = f"The activity changes during the video: {steps}."
    if label:
        text += (
            f" {label} covers the largest part ({percent(share)} of the video, "
            f"{confidence_words(confidence)} confidence, {percent(confidence)})."
        )
    return text


def _classifier_sentence(evidence: Evidence, label: str) -> str | None:
    part = evidence.classifier
    if part is None:
        return None
    scores = {item.label: item.probability for item in part.top_k}
    top = part.top_k[0]
    where = f"The classifier ({code(part.model)}, checkpoint {code(part.checkpoint_name)})"
    if top.label == label:
        return f"{where} ranks {label} first with {percent(top.probability)}."
    if zero_shot_only(evidence, label):
        return f"{where} was not trained on {label}; its own first choice is {top.label} ({percent(top.probability)})."
    mine = f"{percent(scores[label])}" if label in scores else "less than its top choices"
    return f"{where} prefers {top.label} ({percent(top.probability)}) and gives {label} {mine}."


def _retrieval_sentence(evidence: Evidence, label: str, citations: _Citations) -> str | None:
    part = evidence.retrieval
    if part is None or not part.neighbours:
        return None
    agreeing = [n for n in part.neighbours if n.label == label]
    closest = part.neighbours[0]
    citations.clips.extend(n.clip_id for n in (agreeing or part.neighbours)[:3])
    total = len(part.neighbours)
    if not agreeing:
        return (
            f"None of the {total} most similar clips in the library is labelled {label}; the closest, "
            f"{code(closest.clip_id)}, is {closest.label} (similarity {closest.score:.2f})."
        )
    best = agreeing[0]
    copies = f", and {best.near_copies} near-copies of it from the same recording" if best.near_copies else ""
    return (
        f"{len(agreeing)} of the {total} most similar recordings in the library are labelled {label}; "
        f"the best match is {code(best.clip_id)} (similarity {best.score:.2f}{copies})."
    )


def zero_shot_trust(probability: float) -> str:
    """How much a zero-shot-only label deserves: never more than a likely but unconfirmed answer."""
    if probability >= 0.8:
        return "as likely but unconfirmed"
    if probability >= 0.5:
        return "as a plausible guess"
    return "as a hint only"


def _zero_shot_sentence(evidence: Evidence, label: str) -> str | None:
    part = evidence.zero_shot
    if part is None or not zero_shot_only(evidence, label):
        return None
    random = " (random weights: these scores mean nothing)" if part.model.endswith(":random") else ""
    return (
        f"This label comes only from zero-shot matching: CLIP ({code(part.model)}{random}) compared the frames "
        f"with the knowledge base's words for each activity and gave {label} {percent(evidence.verdict.confidence)}. "
        f"No trained class and no example clip of {label} confirm it, so treat it "
        f"{zero_shot_trust(evidence.verdict.confidence)}: matching single frames to words ignores motion and is "
        f"less reliable than a trained class. A few labelled example clips "
        f"({code(f'python -m indexing add <videos> --label {label}')}) would let the library check it."
    )


def _known_summary(evidence: Evidence, citations: _Citations) -> str:
    verdict = evidence.verdict
    label = verdict.label or ""
    sentences = [f"The clip most likely shows **{label}**."]
    for sentence in (
        _zero_shot_sentence(evidence, label),
        _classifier_sentence(evidence, label),
        _retrieval_sentence(evidence, label, citations),
    ):
        if sentence:
            sentences.append(sentence)
    if evidence.classifier and evidence.retrieval and not zero_shot_only(evidence, label):
        sentences.append(f"Combining both gives {label} {percent(verdict.confidence)}.")
    return " ".join(sentences)


def _unknown_summary(evidence: Evidence, citations: _Citations) -> str:
    candidates = [c for c in evidence.fused[:3] if c.probability > 0]
    text = f"This clip does not look like any activity I know well enough to name: {evidence.verdict.reason}."
    if candidates:
        text += (
            " The closest candidates are "
            + join_words([f"**{c.label}** ({percent(c.probability)})" for c in candidates])
            + "."
        )
        if evidence.retrieval and evidence.retrieval.neighbours:
            citations.clips.extend(n.clip_id for n in evidence.retrieval.neighbours[:3])
    text += (
        " If it is one of these, more example clips of it would help; if it is a new activity, add a "
        "markdown file for it to `kb/` and a few labelled example clips to the library."
    )
    return text


def _timeline_block(evidence: Evidence) -> str | None:
    if len(evidence.timeline) < 2:
        return None
    rows = [
        f"| {s.start_s:.1f} s | {s.end_s:.1f} s | {s.label or 'unknown'} | {percent(s.confidence)} |"
        for s in evidence.timeline
    ]
    intro = (
        f"**Timeline.** The video is {evidence.video.duration_s:.1f} s long, so it was analysed in overlapping "
        "windows; neighbouring windows that agree are merged:"
    )
    return intro + "\n\n| from | to | activity | confidence |\n|---|---|---|---|\n" + "\n".join(rows)


def _looks_block(evidence: Evidence, label: str, citations: _Citations) -> str | None:
    found = find_passages(evidence.kb_passages, label, LOOKS_SECTION)
    if not found:
        return None
    lines = content_lines(found[0].text)[:2]
    if not lines:
        return None
    return (
        f"**What to look for.** The knowledge base describes {label} on video like this "
        f"{citations.cite(found[0])}:\n\n{quote(lines)}"
    )


def mentions(text: str, label: str) -> bool:
    """Whole-word, case-insensitive: "Diving" is not found inside "SkyDiving"."""
    return re.search(rf"\b{re.escape(label)}\b", text, re.IGNORECASE) is not None


def _confusion_block(evidence: Evidence, label: str, citations: _Citations) -> str | None:
    others = [c.label for c in evidence.fused[1:3] if c.probability >= _RUNNER_UP_MIN and c.label != label]
    lead = "**Could it be something else?**"
    if others:
        lead += (
            " The next candidates are "
            + join_words([f"{c.label} ({percent(c.probability)})" for c in evidence.fused[1:3] if c.label in others])
            + "."
        )
    found = find_passages(evidence.kb_passages, label, CONFUSED_SECTION)
    for other in others:
        for passage in found:
            match = [p for p in paragraphs(passage.text) if mentions(p, other)]
            if match:
                return f"{lead} How to tell {label} from {other} {citations.cite(passage)}:\n\n{quote(match[:1])}"
    if found and (first := paragraphs(found[0].text)):
        cite = citations.cite(found[0])
        return f"{lead} The knowledge base notes what {label} is often confused with {cite}:\n\n{quote(first[:1])}"
    return lead if others else None


def _caveats(evidence: Evidence) -> list[str]:
    blocks = []
    if evidence.is_still:
        blocks.append(
            "**Still image.** This is a single picture, so motion could not be judged: the answer rests on "
            "what one frame looks like, and activities that differ only in how they move cannot be told apart."
        )
    if evidence.missing:
        items = "\n".join(f"- **{m.name}**: {m.reason} Fix: {code(m.fix)}" for m in evidence.missing)
        blocks.append("**Missing parts.** This answer uses less evidence than usual:\n\n" + items)
    if evidence.notes:
        blocks.append("**Notes.**\n\n" + "\n".join(f"- {note}" for note in evidence.notes))
    return blocks


def clip_answer(evidence: Evidence) -> list[str]:
    """The first answer about a clip, as markdown paragraphs."""
    citations = _Citations()
    blocks = [BANNER, _heading(evidence)]
    verdict = evidence.verdict
    if len(timeline_labels(evidence)) > 1:
        blocks.append(_changing_summary(evidence))
        blocks.extend(_looks_block(evidence, label, citations) for label in labels_by_duration(evidence.timeline)[:2])
    elif verdict.is_unknown or not verdict.label:
        blocks.append(_unknown_summary(evidence, citations))
    else:
        blocks.append(_known_summary(evidence, citations))
        blocks.append(_looks_block(evidence, verdict.label, citations))
        blocks.append(_confusion_block(evidence, verdict.label, citations))
    blocks.append(_timeline_block(evidence))
    blocks.extend(_caveats(evidence))
    blocks.append(citations.line())
    return [block for block in blocks if block]


def followup_answer(question: str, evidence: Evidence, passages: Sequence[KbPassage]) -> list[str]:
    """A follow-up answered by quoting the KB passages retrieved for the question.

    Questions about the explanation ("what did you look at?", "why not Surfing?") are answered
    from the Grad-CAM summary instead, since the KB cannot know where the classifier looked.
    """
    if (asked := explanation_question(question, evidence)) is not None:
        return [BANNER, *explanation_blocks(asked, evidence)]
    citations = _Citations()
    verdict = evidence.verdict
    about = (
        f"This clip was recognised as **{verdict.label}** ({percent(verdict.confidence)} confidence)."
        if not verdict.is_unknown and verdict.label
        else "This clip was not recognised as a known activity."
    )
    blocks = [BANNER, f"{about} You asked: “{shorten(question, 200)}”"]
    if not passages:
        blocks.append("The knowledge base has no passage that matches this question.")
    else:
        blocks.append("The knowledge base passages closest to your question say:")
        for passage in passages[:3]:
            lines = content_lines(passage.text)[:3]
            blocks.append(f"**{passage.label}, {passage.section}** {citations.cite(passage)}\n\n{quote(lines)}")
    blocks.append(
        "The offline answerer can only quote the knowledge base. Set `GOOGLE_API_KEY`, point "
        "`ACTIVITY_OPENAI_BASE_URL` at a model server you run (Ollama, llama-server, vLLM), or choose "
        "`--llm local` for answers written in free prose."
    )
    blocks.append(citations.line())
    return [block for block in blocks if block]


def offline_answer(
    question: str, evidence: Evidence, passages: Sequence[KbPassage], is_followup: bool
) -> Iterator[str]:
    """The answer streamed paragraph by paragraph, like a model's reply."""
    blocks = followup_answer(question, evidence, passages) if is_followup else clip_answer(evidence)
    for index, block in enumerate(blocks):
        yield block if index == 0 else "\n\n" + block


# The last resort of auto: it needs nothing.
WRITERS.add("offline", AnswerWriter(lambda settings: OFFLINE, configured=lambda settings: True, auto_rank=99))
