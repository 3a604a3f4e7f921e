"""Split a knowledge-base markdown body into passages, one per ``## `` section.

Sections are what people write and what an answer cites ("diving.md, How it looks on video"),
so they are the retrieval unit. Text before the first ``## `` (after the ``# `` title) becomes
an "Overview" passage; ``###`` subsections stay inside their section; headings inside fenced
code blocks are ignored.
"""

import re
from dataclasses import dataclass

OVERVIEW = "Overview"


@dataclass(frozen=True)
class Section:
    title: str
    text: str
    slug: str  # stable within a file: the chunk id does not change when other sections move


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def chunk_markdown(body: str) -> list[Section]:
    sections: list[tuple[str, list[str]]] = [(OVERVIEW, [])]
    in_fence = False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            sections.append((line[3:].strip() or "Untitled", []))
        elif not in_fence and line.startswith("# ") and sections[-1][0] == OVERVIEW:
            continue  # the document title; the label already names the activity
        else:
            sections[-1][1].append(line)
    chunks, seen = [], {}
    for title, lines in sections:
        text = "\n".join(lines).strip()
        if not text:
            continue
        slug = slugify(title)
        seen[slug] = seen.get(slug, 0) + 1
        chunks.append(Section(title, text, slug if seen[slug] == 1 else f"{slug}-{seen[slug]}"))
    return chunks
