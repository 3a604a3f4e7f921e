"""Follow-ups about the explanation: "what did you look at?" and "why not Surfing?".

Both are answered from the clip's ``ExplanationPart`` (the Grad-CAM summary the Explain control
added to the evidence), so the words match the heat maps on screen. When the class has not been
explained yet, the answer says how to see it instead of guessing where the model looked.
"""

import re
from dataclasses import dataclass

from assistant.evidence import Evidence, ExplanationPart

# "what did you look at?", "where was the model looking?", "show me the heat map": the asker means the
# classifier, never "how does Fall look on video?" (a KB question).
_LOOKED_AT = re.compile(
    r"\b(did|do|were|was|are|is)\s+(you|it|the\s+(model|classifier|network))\b.*\b(look|focus|attend|pay)"
    r"|\b(saliency|heat\s*-?map|grad-?cam)\b",
    re.IGNORECASE | re.DOTALL,
)
_WHY_NOT = re.compile(r"\bwhy\b.*(\bnot\b|n't\b|\brather than\b|\binstead of\b)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ExplanationQuestion:
    """The class a question wants explained; ``rival`` when it asks why the answer was not that class."""

    label: str
    rival: bool


def _mentions(text: str, label: str) -> bool:
    return re.search(rf"\b{re.escape(label)}\b", text, re.IGNORECASE) is not None


def _answer_label(evidence: Evidence) -> str | None:
    if evidence.verdict.label and not evidence.verdict.is_unknown:
        return evidence.verdict.label
    return evidence.classifier.top_k[0].label if evidence.classifier and evidence.classifier.top_k else None


def explanation_question(question: str, evidence: Evidence) -> ExplanationQuestion | None:
    """What, if anything, a follow-up asks the explanation about; None for every other question."""
    answer = _answer_label(evidence)
    if _WHY_NOT.search(question):
        known = dict.fromkeys(
            [item.label for item in evidence.fused]
            + ([item.label for item in evidence.classifier.top_k] if evidence.classifier else [])
        )
        others = [label for label in known if label != answer and _mentions(question, label)]
        if others:
            return ExplanationQuestion(label=others[0], rival=True)
    if _LOOKED_AT.search(question) and answer:
        return ExplanationQuestion(label=answer, rival=False)
    return None


def _where(part: ExplanationPart) -> str:
    """Where and when the heat sits, as a clause that follows "For <label>, "."""
    others = [f"{m.time_s:.1f} s ({m.region})" for m in part.moments if abs(m.time_s - part.peak_s) > 1e-6]
    strongest = max(part.moments, key=lambda m: m.importance, default=None)
    text = (
        f"the classifier (`{part.model}`, {part.method}) looked mostly at the "
        f"{strongest.region if strongest else 'whole picture'} of the frame, and the moment that weighed most "
        f"is **{part.peak_s:.1f} s** into the video."
    )
    if others:
        text += " Other key moments: " + ", ".join(others) + "."
    return text + f" The heat covers {part.coverage:.0%} of the pictures (the key frames are shown under Explain)."


def _how_to_see(label: str, video: str) -> str:
    return (
        f"I have not computed where the classifier looked for {label} yet: open **Explain** under the answer, "
        f"choose {label} and press Explain (or run `python -m assistant explain {video} --label {label}`)."
    )


def explanation_blocks(asked: ExplanationQuestion, evidence: Evidence) -> list[str]:
    """Markdown paragraphs answering ``asked`` from the evidence's explanations."""
    part = evidence.explanation_for(asked.label)
    blocks = []
    if asked.rival:
        answer = _answer_label(evidence)
        scores = {item.label: item.probability for item in evidence.classifier.top_k} if evidence.classifier else {}
        rival = f"{scores[asked.label]:.0%}" if asked.label in scores else "less than its top choices"
        mine = f" against {scores[answer]:.0%} for **{answer}**" if answer in scores else ""
        blocks.append(f"The classifier gives **{asked.label}** {rival}{mine}.")
        if part is not None:
            blocks.append(f"Looking for {asked.label}, " + _where(part))
            answered = evidence.explanation_for(answer)
            if answered is not None:
                blocks.append(
                    f"For comparison, {answer} peaked at {answered.peak_s:.1f} s with {answered.probability:.0%} "
                    f"over the explained windows, against {part.probability:.0%} for {asked.label}."
                )
    elif part is not None:
        blocks.append(f"For **{asked.label}**, " + _where(part))
    if part is None:
        blocks.append(_how_to_see(asked.label, evidence.source_path))
    return blocks
