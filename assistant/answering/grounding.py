"""The grounding check: does an answer a language model wrote stay within its evidence?

Models loop, invent details, name the wrong activity, cite KB sections that do not exist and
sometimes obey instructions hidden in a KB file or a file name; a 135M-parameter local model
does all of these. So every generated answer (local or Gemini) is checked before the user is
asked to trust it. The check is lexical on purpose: it takes well under a millisecond, gives the
same result every time, and each failure reads as one short reason the user can understand.

What an answer must do:

- name the verdict (or say the activity is unknown when it is), and not lead with another
  activity in the first answer about a clip;
- give numbers the evidence holds (every percentage), and confidence words that fit the
  verdict's confidence; a first answer about a known activity states its confidence;
- name only activities that appear in the evidence (known activities are the KB's labels and
  aliases plus every label in the evidence);
- cite only KB sections passed to it and identifiers (clip ids, checkpoints) the evidence holds;
- not loop (a run of words repeated);
- not act on instructions found inside the data (their payload appears only quoted, if at all).
"""

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.evidence import Evidence, KbPassage

# Two answers' worth of rounding: "97%" for 0.966, "0.97" for 0.9655.
PERCENT_TOLERANCE = 0.015
DECIMAL_TOLERANCE = 0.006
# How far before a percentage its activity may be named ("Fall with high confidence (92%)").
LABEL_REACH = 40
# A loop: the same 6 words three times, or the same 12 words twice.
LOOP_NGRAMS = ((6, 3), (12, 2))

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_PERCENT = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?)\s?%")
_DECIMAL = re.compile(r"(?<![\w.])([01]\.\d{2,3})(?![\w%])")
# A citation: [file § section], or in round brackets, which small models write instead.
_BRACKET = re.compile(r"\[([^\[\]\n]{1,200})\](?!\()|\(([^()\n]{1,200}(?:§|\.md)[^()\n]{0,200})\)")
# Identifiers (clip ids such as v_GolfSwing_g01_c01, checkpoint names): letters and digits joined by
# underscores, with a digit. "360-degree" or "2-core" is prose, not an id.
_IDENTIFIER = re.compile(r"(?<![\w./-])(?=[\w.-]*\d)(?=[\w.-]*[A-Za-z])[A-Za-z0-9]+(?:_[A-Za-z0-9.-]+)+")
_UNKNOWN = re.compile(
    r"\bunknown\b|\bnot (?:a |any )?(?:known|recogni[sz]ed)\b|\b(?:does not|doesn't|do not|don't) "
    r"(?:look like|match|resemble)\b|\bno known activity\b|\bcannot (?:tell|identify|name|say)\b|"
    r"\bnot (?:sure|certain|confident)\b|\bunclear\b|\buncertain\b",
    re.IGNORECASE,
)
_CONFIDENCE_WORDS = re.compile(
    r"\b(very high|fairly high|high|strong|moderate|medium|fair|very low|low|weak)(?:ly)?\s+"
    r"(?:confidence|confident|certainty|certain|probability|likelihood)\b|"
    r"\b(?:confidence|certainty)\s+(?:is\s+|of\s+|level\s+is\s+)?(very high|fairly high|high|moderate|medium|low|"
    r"very low)\b",
    re.IGNORECASE,
)
# Each word's range of the verdict's confidence (what the offline writer's bands allow, with slack).
_CONFIDENCE_RANGES = {
    "very high": (0.8, 1.0),
    "high": (0.6, 1.0),
    "strong": (0.6, 1.0),
    "fairly high": (0.5, 0.9),
    "moderate": (0.3, 0.85),
    "medium": (0.3, 0.85),
    "fair": (0.3, 0.85),
    "low": (0.0, 0.6),
    "weak": (0.0, 0.6),
    "very low": (0.0, 0.4),
}
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b[^.\n]{0,40}\b(?:instructions?|rules?|above|previous|prior|prompt)\b|"
    r"\byou are now\b|\bsystem prompt\b|\bsystem:|\bnew instructions?\b|"
    r"\b(?:reply|respond|answer|say|write|print|output)\b[^.\n]{0,20}\b(?:only|exactly|instead)\b",
    re.IGNORECASE,
)
_OBEYED = re.compile(
    r"\bignor(?:e|ed|ing) (?:all |the |my |your )?(?:previous|prior|above|earlier|original) instructions\b|"
    r"\b(?:as|like) (?:instructed|requested) (?:by|in) the (?:kb|knowledge base|passage|file|evidence)\b",
    re.IGNORECASE,
)
_ROLE = re.compile(r"\byou are now (?:an? |the )?([A-Za-z]{3,})", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“']([^\"”'\n]{2,60})[\"”']")
_CAPS = re.compile(r"\b[A-Z]{3,}\b")
_INSTRUCTION_WORDS = {
    "IGNORE", "DISREGARD", "FORGET", "PREVIOUS", "PRIOR", "ABOVE", "INSTRUCTIONS", "INSTRUCTION", "RULES",
    "SYSTEM", "PROMPT", "REPLY", "RESPOND", "ANSWER", "SAY", "WRITE", "PRINT", "OUTPUT", "ONLY", "WITH",
    "EXACTLY", "INSTEAD", "YOU", "ARE", "NOW", "ALL", "THE", "AND", "NEW", "END", "BEGIN", "PASSAGE", "KEY",
}  # fmt: skip


@dataclass(frozen=True)
class Grounds:
    """What an answer about one clip may rely on, gathered once from its evidence and passages."""

    verdict: str | None
    confidence: float
    timeline_labels: frozenset[str]
    terms: tuple[tuple[str, str], ...]  # (lower-case activity term, its label), longest term first
    grounded: frozenset[str]  # labels present in the evidence
    numbers: tuple[float, ...]  # every probability, score and share in the evidence
    label_numbers: Mapping[str, tuple[float, ...]]  # each label's own probabilities and confidences
    citations: frozenset[tuple[str, str]]  # (file, section), lower case
    identifiers: frozenset[str]  # every identifier-shaped token in the evidence and passages
    payloads: tuple[str, ...]  # what instructions found inside the data ask the model to write


def camel_words(label: str) -> str:
    """``GolfSwing`` -> ``golf swing``: how prose names a CamelCase class."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label).lower()


def activity_terms(activities: Mapping[str, Iterable[str]]) -> tuple[tuple[str, str], ...]:
    """Every way an answer may name each activity (label, its words, aliases), longest first."""
    terms: dict[str, str] = {}
    for label, aliases in activities.items():
        for term in (label, camel_words(label), *aliases):
            if term.strip():
                terms.setdefault(" ".join(term.lower().split()), label)
    return tuple(sorted(terms.items(), key=lambda item: -len(item[0])))


def named_activities(text: str, terms: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
    """(position, label) of each activity named in ``text``; a longer name hides the shorter ones
    inside it ("sky diving" is SkyDiving, not Diving)."""
    lowered = text.lower()
    taken = [False] * len(lowered)
    found = []
    for term, label in terms:
        pattern = r"(?<![a-z0-9])" + r"\s+".join(map(re.escape, term.split())) + r"(?![a-z0-9])"
        for match in re.finditer(pattern, lowered):
            if not any(taken[match.start() : match.end()]):
                taken[match.start() : match.end()] = [True] * (match.end() - match.start())
                found.append((match.start(), label))
    return sorted(found)


def evidence_labels(evidence: Evidence) -> set[str]:
    labels = {item.label for item in evidence.fused}
    if evidence.verdict.label:
        labels.add(evidence.verdict.label)
    if evidence.classifier:
        labels |= {item.label for item in evidence.classifier.top_k}
    if evidence.retrieval:
        labels |= {item.label for item in evidence.retrieval.vote}
        labels |= {n.label for n in evidence.retrieval.neighbours}
    if evidence.zero_shot:
        labels |= {item.label for item in evidence.zero_shot.scores}
    labels |= {s.label for s in evidence.timeline if s.label}
    labels |= {p.label for p in evidence.kb_passages}
    return labels


def _label_numbers(evidence: Evidence) -> dict[str, tuple[float, ...]]:
    scores = [*evidence.fused, *(evidence.zero_shot.scores if evidence.zero_shot else [])]
    if evidence.classifier:
        scores += evidence.classifier.top_k
    if evidence.retrieval:
        scores += evidence.retrieval.vote
    numbers: dict[str, list[float]] = {}
    for item in scores:
        numbers.setdefault(item.label, []).append(item.probability)
    if evidence.verdict.label:
        numbers.setdefault(evidence.verdict.label, []).append(evidence.verdict.confidence)
    for segment in evidence.timeline:
        if segment.label:
            numbers.setdefault(segment.label, []).append(segment.confidence)
    return {label: tuple(values) for label, values in numbers.items()}


def _numbers(evidence: Evidence) -> tuple[float, ...]:
    numbers = [evidence.verdict.confidence, *(item.probability for item in evidence.fused)]
    if evidence.classifier:
        numbers += [item.probability for item in evidence.classifier.top_k]
    if evidence.retrieval:
        numbers += [item.probability for item in evidence.retrieval.vote]
        numbers += [n.score for n in evidence.retrieval.neighbours]
    if evidence.zero_shot:
        numbers += [item.probability for item in evidence.zero_shot.scores]
    duration = evidence.video.duration_s or 1.0
    numbers += [s.confidence for s in evidence.timeline]
    numbers += [(s.end_s - s.start_s) / duration for s in evidence.timeline]
    return tuple(numbers)


def injected_payloads(texts: Iterable[str]) -> tuple[str, ...]:
    """What instruction-like sentences inside the data ask for: quoted text, shouted words, a role."""
    payloads: list[str] = []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?\n])", text):
            if not _INSTRUCTION.search(sentence):
                continue
            payloads += [quoted.strip() for quoted in _QUOTED.findall(sentence)]
            payloads += [word for word in _CAPS.findall(sentence) if word not in _INSTRUCTION_WORDS]
            payloads += _ROLE.findall(sentence)
    return tuple(dict.fromkeys(p for p in payloads if len(p) >= 3))


def grounds_for(evidence: Evidence, passages: Sequence[KbPassage], activities: Mapping[str, Iterable[str]]) -> Grounds:
    """``activities``: every known activity with its aliases (the KB's entries and the model's classes)."""
    known = {label: tuple(aliases) for label, aliases in activities.items()}
    for label in evidence_labels(evidence):
        known.setdefault(label, ())
    terms = activity_terms(known)
    all_passages = [*evidence.kb_passages, *passages]
    grounded = evidence_labels(evidence) | {p.label for p in passages}
    for passage in all_passages:
        grounded |= {label for _, label in named_activities(passage.text, terms)}
    data = [evidence.model_dump_json(exclude={"answer_check"}), *(p.text for p in passages)]
    texts = [p.text for p in all_passages] + [evidence.source_path, *evidence.notes]
    if evidence.retrieval:
        texts += [n.clip_id for n in evidence.retrieval.neighbours]
    return Grounds(
        verdict=None if evidence.verdict.is_unknown else evidence.verdict.label,
        confidence=evidence.verdict.confidence,
        timeline_labels=frozenset(s.label for s in evidence.timeline if s.label),
        terms=terms,
        grounded=frozenset(grounded),
        numbers=_numbers(evidence),
        label_numbers=_label_numbers(evidence),
        citations=frozenset((p.file.lower(), " ".join(p.section.lower().split())) for p in all_passages),
        identifiers=frozenset(token.lower().rstrip(".-") for text in data for token in _IDENTIFIER.findall(text)),
        payloads=injected_payloads(texts),
    )


def unquoted(answer: str) -> str:
    """The answer without block quotes and quotation marks' contents: what the model says itself."""
    lines = [line for line in answer.splitlines() if not line.lstrip().startswith(">")]
    return _QUOTED.sub(" ", "\n".join(lines))


def _near(value: float, numbers: Sequence[float], tolerance: float) -> bool:
    return any(abs(value - number) <= tolerance for number in numbers)


def verdict_problems(answer: str, grounds: Grounds, is_followup: bool) -> list[str]:
    named = named_activities(answer, grounds.terms)
    labels = [label for _, label in named]
    if grounds.verdict is None:
        return [] if _UNKNOWN.search(answer) else ["it does not say that the activity is unknown"]
    accepted = {grounds.verdict} | (grounds.timeline_labels if len(grounds.timeline_labels) > 1 else set())
    if not accepted & set(labels):
        return [f"it does not name the verdict, {grounds.verdict}"]
    if not is_followup and len(grounds.timeline_labels) < 2 and labels[0] != grounds.verdict:
        return [f"it leads with {labels[0]}, but the verdict is {grounds.verdict}"]
    return []


def _sentences_about(answer: str, label: str, terms: Sequence[tuple[str, str]]) -> list[str]:
    """Sentences that name ``label`` and no other activity: where confidence words refer to it."""
    sentences = re.split(r"(?<=[.!?])\s+|\n+", answer)
    return [s for s in sentences if {name for _, name in named_activities(s, terms)} == {label}]


def _label_before(answer: str, position: int, terms: Sequence[tuple[str, str]]) -> str | None:
    """The activity a percentage belongs to: the last one named just before it in its sentence
    ("Slide (6%)", "Slide with 6 %"); None when the sentence names none that close."""
    start = max(answer.rfind(mark, 0, position) for mark in (".", "!", "?", "\n", ";", ",")) + 1
    window = answer[max(start, position - LABEL_REACH) : position]
    named = named_activities(window, terms)
    return named[-1][1] if named else None


def confidence_problems(answer: str, grounds: Grounds, is_followup: bool) -> list[str]:
    problems = []
    for match in _PERCENT.finditer(answer):
        value = float(match.group(1)) / 100
        label = _label_before(answer, match.start(), grounds.terms)
        if label in grounds.label_numbers and not _near(value, grounds.label_numbers[label], PERCENT_TOLERANCE):
            problems.append(f"it gives {label} {match.group(0)}, which is not {label}'s score in the evidence")
        elif not _near(value, grounds.numbers, PERCENT_TOLERANCE):
            problems.append(f"it states {match.group(0)}, a number the evidence does not hold")
    for match in _DECIMAL.finditer(answer):
        if not _near(float(match.group(1)), grounds.numbers, DECIMAL_TOLERANCE):
            problems.append(f"it states {match.group(1)}, a number the evidence does not hold")
    if grounds.verdict is None:
        return problems
    about = " ".join(_sentences_about(answer, grounds.verdict, grounds.terms))
    words = [(first or second).lower() for first, second in _CONFIDENCE_WORDS.findall(about)]
    for word in words:
        low, high = _CONFIDENCE_RANGES[word]
        if not low <= grounds.confidence <= high:
            problems.append(f"it calls the confidence {word}, but it is {grounds.confidence:.0%}")
    stated = any(
        _near(float(m.group(1)) / 100, [grounds.confidence], PERCENT_TOLERANCE) for m in _PERCENT.finditer(answer)
    )
    if not is_followup and not stated and not words:
        problems.append(f"it does not give the confidence ({grounds.confidence:.0%})")
    return problems


def activity_problems(answer: str, grounds: Grounds) -> list[str]:
    invented = sorted({label for _, label in named_activities(answer, grounds.terms)} - grounds.grounded)
    return [f"it names {label}, which appears nowhere in the evidence" for label in invented]


def citation_problems(answer: str, grounds: Grounds) -> list[str]:
    problems = []
    files = {file for file, _ in grounds.citations}
    for square, round_ in _BRACKET.findall(answer):
        inner = square or round_
        if "§" in inner:
            file, section = (" ".join(part.lower().split()) for part in inner.split("§", 1))
            if (file, section) not in grounds.citations:
                problems.append(f"it cites [{inner.strip()}], which is not among its KB passages")
        elif ".md" in inner.lower() and inner.strip().lower() not in files:
            problems.append(f"it cites [{inner.strip()}], which is not among its KB passages")
    for token in dict.fromkeys(token.rstrip(".-") for token in _IDENTIFIER.findall(answer)):
        if token.lower() not in grounds.identifiers:
            problems.append(f"it cites {token}, which is no clip or file in the evidence")
    return problems


def loop_problems(answer: str) -> list[str]:
    words = _WORD.findall(answer.lower())
    for size, times in LOOP_NGRAMS:
        counts = Counter(tuple(words[i : i + size]) for i in range(len(words) - size + 1))
        if counts and (top := counts.most_common(1)[0])[1] >= times:
            return [f"it repeats itself (“{' '.join(top[0])}” {top[1]} times)"]
    return []


def injection_problems(answer: str, grounds: Grounds) -> list[str]:
    own_words = unquoted(answer)
    if _OBEYED.search(own_words):
        return ["it acts on instructions instead of the evidence"]
    for payload in grounds.payloads:
        if re.search(rf"(?<!\w){re.escape(payload)}(?!\w)", own_words, re.IGNORECASE):
            return [f"it follows an instruction hidden in the evidence (it writes “{payload}”)"]
    return []


def check_answer(answer: str, grounds: Grounds, *, is_followup: bool = False) -> list[str]:
    """The problems found, as short reasons ("it names X, which appears nowhere in the evidence");
    an empty list means the answer passed."""
    if not answer.strip():
        return ["it is empty"]
    problems = [
        *verdict_problems(answer, grounds, is_followup),
        *confidence_problems(answer, grounds, is_followup),
        *activity_problems(answer, grounds),
        *citation_problems(answer, grounds),
        *loop_problems(answer),
        *injection_problems(answer, grounds),
    ]
    return list(dict.fromkeys(problems))  # a number stated twice is one problem
