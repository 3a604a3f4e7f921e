"""Is an answer worth reading? A lexical check of what a reader would call garbled (issue 23).

The grounding check asks whether an answer stays within its evidence; this asks whether it
reads as prose: the words are ASCII-plausible (letters with a vowel, numbers, the usual
punctuation), there is no markup debris (LaTeX, HTML, tables, code fences, stray braces), the
sentences end, and one of them names the verdict (or says the activity is unknown). The answer's
own markup is allowed: bold activity names, ``[kb/<file> § <section>]`` citations, and the markdown
layout of the offline writer (headings, quotes, tables, lists, code spans), which is structure, not debris.
Used by ``benchmarks/llm.py`` and the local model's test.
"""

import re

from assistant.answering.grounding import camel_words
from assistant.evidence import Evidence

_CITATION = re.compile(r"\[[^\[\]\n]{1,200}§[^\[\]\n]{1,200}\]")
# Markdown an answer may be laid out with (the offline writer's headings, quotes, tables, lists, code spans).
_LAYOUT_LINE = re.compile(r"^\s*(?:#{1,6} |> |\||- )")
_CODE_SPAN = re.compile(r"`[^`\n]{1,200}`")
_DEBRIS = re.compile(r"\\[a-zA-Z]+|[{}|<>$#`~^=]|\*\*\s*\*\*|&\s|_{2,}")
_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*|\d+(?:\.\d+)?%?")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*$")


def readability_problems(answer: str, evidence: Evidence) -> list[str]:
    """Short reasons an answer does not read as prose; empty when it does."""
    prose = "\n".join(line for line in answer.splitlines() if not _LAYOUT_LINE.match(line))
    text = _CODE_SPAN.sub("code", _CITATION.sub(" ", prose)).replace("**", "").replace("*", "")
    problems = []
    if debris := sorted(set(_DEBRIS.findall(text))):
        problems.append(f"markup debris {' '.join(debris[:5])}")
    tokens = text.split()
    bare = [t.strip(".,;:!?()\"'“”‘’…") for t in tokens]
    odd = [t for t in bare if t and not _WORD.fullmatch(t)]
    if tokens and len(odd) > max(1, len(tokens) // 20):
        problems.append(f"{len(odd)} of {len(tokens)} words are not words ({' '.join(odd[:5])})")
    words = [t for t in _WORD.findall(text) if t[0].isalpha() and len(t) > 3]
    if unpronounceable := [w for w in words if not re.search(r"[aeiouyAEIOUY]", w)]:
        problems.append(f"unpronounceable words ({' '.join(unpronounceable[:5])})")
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    if not sentences or not _SENTENCE_END.search(sentences[-1]):
        problems.append("the last sentence does not end")
    verdict = evidence.verdict
    if verdict.is_unknown or not verdict.label:
        named = re.search(r"\bunknown\b|does not look like any activity|not a known activity", text, re.IGNORECASE)
    else:
        names = (verdict.label.lower(), camel_words(verdict.label))
        named = any(name in sentence.lower() for sentence in sentences for name in names)
    if not named:
        problems.append("no sentence names the verdict")
    return problems
