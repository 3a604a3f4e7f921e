"""Edit the knowledge base from the app: list, read, validate, save, create and delete ``kb/*.md``.

Names typed by a user must stay inside ``kb/``: a plain ``name.md`` (no folders, no hidden
files, no other extensions, no symlinks leading out). A file is validated before it is written
(front matter, at least one section, a label no other file claims), written atomically, and
every change is synced to Chroma at once, so the next answer already uses it.
"""

import re
import threading
from pathlib import Path

from core.atomic import atomic_write_text
from core.errors import KnowledgeBaseError
from core.labels import checked_label
from indexing.kb.front_matter import FrontMatter, split_front_matter
from indexing.kb.knowledge_base import KnowledgeBase, SyncReport, parse_kb_file

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}\.md")
MAX_CHARS = 200_000

TEMPLATE = """---
label: {label}
aliases: []
confused_with: []
---
# {label}

## What it is

Two or three sentences: what the activity is and where it happens.

## How it looks on video

- Visual cues: equipment, setting, clothing.
- Body motion: what the body does, and how the motion repeats.
- Camera motion: static, panning, first-person.

## Often confused with

**OtherActivity**: what the two share, and what tells them apart.
"""


def file_name_for(label: str) -> str:
    """``RopeClimbing`` -> ``rope_climbing.md``: the file a new activity gets by default."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", label.strip())
    stem = re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").lower()
    if not stem:
        raise KnowledgeBaseError(f"{label!r} is not a usable activity name; use letters and digits, e.g. RopeClimbing.")
    return f"{stem}.md"


class KbEditor:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.kb_dir = Path(kb.kb_dir)
        self._lock = threading.Lock()  # one change (write + sync) at a time

    # -- names ----------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """The file ``name`` refers to, or KnowledgeBaseError when it would leave ``kb/``."""
        name = (name or "").strip()
        if not NAME_PATTERN.fullmatch(name):
            raise KnowledgeBaseError(
                f"{name!r} is not an allowed knowledge-base file name: use a plain name ending in .md "
                "(letters, digits, '_' or '-'; no folders, no leading dot), e.g. rope_climbing.md."
            )
        path = self.kb_dir / name
        if path.is_symlink() or path.resolve().parent != self.kb_dir.resolve():
            raise KnowledgeBaseError(f"{name} points outside the knowledge-base folder {self.kb_dir}; refused.")
        return path

    def files(self) -> list[str]:
        """The activity files the editor may open, as names under ``kb/``."""
        if not self.kb_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.kb_dir.glob("*.md")
            if NAME_PATTERN.fullmatch(p.name) and p.is_file() and not p.is_symlink()
        )

    def _existing(self, name: str) -> Path:
        path = self.path(name)
        if not path.is_file():
            raise KnowledgeBaseError(f"{self.kb_dir.name}/{name} does not exist; choose a file from the list.")
        return path

    # -- reading and checking -------------------------------------------------------------------
    def read(self, name: str) -> str:
        try:
            return self._existing(name).read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise KnowledgeBaseError(f"{name} is not UTF-8 text ({error}); fix it in an editor.") from error

    def labels(self, exclude: str | None = None) -> dict[str, str]:
        """lower-case label -> file, for every readable file except ``exclude``."""
        found = {}
        for other in self.files():
            if other == exclude:
                continue
            try:
                front, _ = split_front_matter((self.kb_dir / other).read_text(encoding="utf-8"))
            except (KnowledgeBaseError, UnicodeDecodeError, OSError):
                continue
            found.setdefault(front.label.lower(), other)
        return found

    def validate(self, name: str, text: str) -> FrontMatter:
        """The file's front matter; KnowledgeBaseError says what to fix when it cannot be synced."""
        self.path(name)
        if len(text) > MAX_CHARS:
            raise KnowledgeBaseError(f"{name} is {len(text)} characters; keep a file under {MAX_CHARS}.")
        try:
            front, _ = parse_kb_file(name, text, self.labels(exclude=name))
        except KnowledgeBaseError as error:
            raise KnowledgeBaseError(f"{name}: {error}.") from error
        return front

    # -- changing -------------------------------------------------------------------------------
    def _write(self, name: str, text: str) -> SyncReport:
        """Validate, write atomically, sync; the caller holds the lock. An invalid file is not written."""
        text = text.replace("\r\n", "\n")
        self.validate(name, text)
        atomic_write_text(self.path(name), text if text.endswith("\n") else text + "\n")
        return self.kb.sync()

    def save(self, name: str, text: str) -> SyncReport:
        with self._lock:
            return self._write(name, text)

    def create(self, label: str, name: str | None = None) -> str:
        """A new activity file from the template; returns its name. Never overwrites a file."""
        label = checked_label(label, KnowledgeBaseError)
        name = (name or "").strip() or file_name_for(label)
        if not name.endswith(".md"):
            name += ".md"
        with self._lock:
            if self.path(name).exists():
                raise KnowledgeBaseError(f"{self.kb_dir.name}/{name} already exists; open it instead.")
            self.kb_dir.mkdir(parents=True, exist_ok=True)
            self._write(name, TEMPLATE.format(label=label))
        return name

    def delete(self, name: str) -> SyncReport:
        with self._lock:
            self._existing(name).unlink()
            return self.kb.sync()
