"""The knowledge base: ``kb/*.md`` sections embedded in a persistent Chroma collection.

``sync`` compares a content hash per section with what the collection holds and embeds only
sections that are new or changed; sections of deleted files are removed. A file whose front
matter is broken is reported and skipped; its previously synced sections stay until it is
fixed or deleted. ``changed_since_sync`` is a cheap mtime/size check the app runs per request.
A sync holds the Chroma folder's cross-process lock, so the app and ``python -m indexing kb``
(or two threads) never write the collection at once. ``from_snapshot`` reads the answering
bundle's copy instead (``indexing.kb.kb_snapshot``): same reading methods, no sync, no chromadb.
"""

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import atomic_write_json
from core.errors import KnowledgeBaseError
from core.locks import store_lock
from core.settings import Settings
from indexing.kb.front_matter import FrontMatter, split_front_matter
from indexing.kb.markdown_chunks import chunk_markdown
from indexing.kb.text_embedder import minilm_embedding_function

log = logging.getLogger(__name__)

COLLECTION = "kb_passages"  # Chroma names need at least 3 characters
SIGNATURE_FILE = "kb_sync.json"
_EMBED_BATCH = 32

Embed = Callable[[list[str]], Sequence]  # texts -> one vector each, as Chroma's embedding functions


@dataclass(frozen=True)
class KbEntry:
    label: str
    aliases: tuple[str, ...]
    confused_with: tuple[str, ...]
    file: str


@dataclass(frozen=True)
class Passage:
    file: str
    section: str
    label: str
    text: str
    score: float


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def summary(self) -> str:
        text = f"added {self.added}, updated {self.updated}, deleted {self.deleted}, unchanged {self.unchanged}"
        return text + (f", skipped {len(self.skipped)} file(s)" if self.skipped else "")


@dataclass(frozen=True)
class _Chunk:
    id: str
    document: str
    metadata: dict

    @property
    def embed_text(self) -> str:
        """Label, aliases and heading travel with the text, so a question naming them finds it."""
        meta = self.metadata
        aliases = f" ({meta['aliases']})" if meta["aliases"] else ""
        return f"{meta['label']}{aliases}. {meta['section']}: {self.document}"


def _join(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def file_chunks(name: str, front: FrontMatter, body: str) -> list[_Chunk]:
    chunks = []
    for order, section in enumerate(chunk_markdown(body)):
        metadata = {
            "file": name,
            "section": section.title,
            "order": order,
            "label": front.label,
            "aliases": _join(front.aliases),
            "confused_with": _join(front.confused_with),
        }
        digest = hashlib.sha256(json.dumps([metadata, section.text], sort_keys=True).encode()).hexdigest()
        chunks.append(_Chunk(f"{name}#{section.slug}", section.text, {**metadata, "hash": digest}))
    return chunks


def parse_kb_file(name: str, text: str, claimed: Mapping[str, str]) -> tuple[FrontMatter, list[_Chunk]]:
    """The one rule for a usable KB file: front matter, at least one section, a label no other file claims.

    ``claimed`` maps lower-case labels to the file that describes them.
    """
    front, body = split_front_matter(text)
    owner = claimed.get(front.label.lower())
    if owner:
        raise KnowledgeBaseError(f"label {front.label!r} is already described in {owner}; edit that file instead")
    chunks = file_chunks(name, front, body)
    if not chunks:
        raise KnowledgeBaseError("no text below the front matter; add '## ' sections")
    return front, chunks


def kb_signature(kb_dir: Path) -> dict:
    """Names, sizes and mtimes of the markdown files: changes whenever a file is saved."""
    files = sorted(kb_dir.glob("*.md")) if kb_dir.is_dir() else []
    return {
        "kb_dir": str(kb_dir.resolve()),
        "files": [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in files],
    }


class KnowledgeBase:
    """The KB files and their collection: in ``chroma_dir`` (embedded), or on the server at ``chroma_url``.

    ``chroma_dir`` keeps the sync signature in both modes: each data directory knows what it
    last synced, and a sync against a shared server re-embeds only sections it does not hold yet.
    """

    def __init__(
        self,
        kb_dir: str | os.PathLike,
        chroma_dir: str | os.PathLike,
        *,
        collection: str = COLLECTION,
        chroma_url: str | None = None,
        timeout_s: float = 10.0,
        embed: Embed | None = None,
    ):
        self.kb_dir = Path(kb_dir)
        self.chroma_dir = Path(chroma_dir)
        self.collection_name = collection
        self.chroma_url, self.timeout_s = chroma_url, timeout_s
        self._embed = embed  # None: minilm_embedding_function(), made when first needed
        self._collection = None
        self.read_only = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "KnowledgeBase":
        """The KB every part of the product uses: embedded unless ``ACTIVITY_CHROMA_URL`` names a server."""
        return cls(
            settings.kb_dir, settings.chroma_dir, chroma_url=settings.chroma_url, timeout_s=settings.chroma_timeout_s
        )

    @classmethod
    def from_snapshot(cls, kb_dir: str | os.PathLike, snapshot_dir: str | os.PathLike, embed: Embed) -> "KnowledgeBase":
        """The answering bundle's read-only KB: ``write_kb_snapshot``'s files, questions embedded by ``embed``."""
        from indexing.kb.kb_snapshot import SnapshotCollection

        kb = cls(kb_dir, snapshot_dir, embed=embed)
        kb._collection, kb.read_only = SnapshotCollection(snapshot_dir), True
        return kb

    @property
    def embed(self) -> Embed:
        if self._embed is None:
            self._embed = minilm_embedding_function()
        return self._embed

    @property
    def collection(self):
        if self._collection is None:
            from indexing.kb.chroma_client import open_collection  # chromadb: not in the answering bundle

            self._collection = open_collection(
                self.collection_name, chroma_dir=self.chroma_dir, url=self.chroma_url, timeout_s=self.timeout_s
            )
        return self._collection

    # -- sync -----------------------------------------------------------------------------------
    def _read_files(self, report: SyncReport) -> tuple[dict[str, _Chunk], set[str]]:
        """Chunks of every valid file, and the names of skipped files (their chunks are kept)."""
        if not self.kb_dir.is_dir():
            raise KnowledgeBaseError(f"Knowledge-base folder {self.kb_dir} not found; create it or pass --kb-dir.")
        chunks: dict[str, _Chunk] = {}
        labels: dict[str, str] = {}
        skipped: set[str] = set()
        for path in sorted(self.kb_dir.glob("*.md")):
            try:
                front, file_sections = parse_kb_file(path.name, path.read_text(encoding="utf-8"), labels)
            except (KnowledgeBaseError, UnicodeDecodeError) as error:
                report.skipped.append((path.name, str(error)))
                skipped.add(path.name)
                log.warning("knowledge base: skipped %s: %s", path.name, error)
                continue
            labels[front.label.lower()] = path.name
            chunks.update((chunk.id, chunk) for chunk in file_sections)
        return chunks, skipped

    def sync(self) -> SyncReport:
        """Bring the collection in line with the files; embeds only new or changed sections."""
        if self.read_only:
            from indexing.kb.kb_snapshot import READ_ONLY

            raise KnowledgeBaseError(READ_ONLY)
        with store_lock(self.chroma_dir, what=f"The knowledge-base store {self.chroma_dir}"):
            return self._sync_locked()

    def _sync_locked(self) -> SyncReport:
        report = SyncReport()
        signature = kb_signature(self.kb_dir)
        wanted, skipped = self._read_files(report)
        stored = self.collection.get(include=["metadatas"])
        stored_hash = {i: m.get("hash") for i, m in zip(stored["ids"], stored["metadatas"], strict=True)}
        stored_file = {i: m.get("file") for i, m in zip(stored["ids"], stored["metadatas"], strict=True)}
        changed = [chunk for chunk in wanted.values() if stored_hash.get(chunk.id) != chunk.metadata["hash"]]
        stale = [i for i in stored_hash if i not in wanted and stored_file[i] not in skipped]
        report.added = sum(chunk.id not in stored_hash for chunk in changed)
        report.updated = len(changed) - report.added
        report.unchanged = len(wanted) - len(changed)
        report.deleted = len(stale)
        if stale:
            self.collection.delete(ids=stale)
        for start in range(0, len(changed), _EMBED_BATCH):
            batch = changed[start : start + _EMBED_BATCH]
            self.collection.upsert(
                ids=[chunk.id for chunk in batch],
                documents=[chunk.document for chunk in batch],
                metadatas=[chunk.metadata for chunk in batch],
                embeddings=self.embed([chunk.embed_text for chunk in batch]),
            )
        atomic_write_json(self.chroma_dir / SIGNATURE_FILE, signature)
        log.info("knowledge base synced: %s", report.summary())
        return report

    def changed_since_sync(self) -> bool:
        """True when any kb file was added, removed or saved since the last sync (no parsing); never when read-only."""
        if self.read_only:
            return False
        path = self.chroma_dir / SIGNATURE_FILE
        if not path.is_file():
            return True
        try:
            return json.loads(path.read_text(encoding="utf-8")) != kb_signature(self.kb_dir)
        except (OSError, ValueError):
            return True

    # -- reading --------------------------------------------------------------------------------
    def passage_count(self) -> int:
        return self.collection.count()

    def entries(self) -> dict[str, KbEntry]:
        """label -> entry, for every activity the collection describes."""
        stored = self.collection.get(include=["metadatas"])
        entries = {}
        for meta in stored["metadatas"]:
            entries.setdefault(
                meta["label"],
                KbEntry(meta["label"], _split(meta["aliases"]), _split(meta["confused_with"]), meta["file"]),
            )
        return dict(sorted(entries.items()))

    def resolve_label(self, name: str) -> str | None:
        """The label that ``name`` refers to (label or alias, any case), or None."""
        wanted = name.strip().lower()
        for entry in self.entries().values():
            if wanted == entry.label.lower() or wanted in (alias.lower() for alias in entry.aliases):
                return entry.label
        return None

    def passages_for_label(self, label: str, k: int = 5) -> list[Passage]:
        """That activity's sections in file order, then the closest passages from other files."""
        resolved = self.resolve_label(label) or label
        own = self.collection.get(where={"label": resolved}, include=["documents", "metadatas"])
        ordered = sorted(zip(own["metadatas"], own["documents"], strict=True), key=lambda pair: pair[0]["order"])
        passages = [Passage(meta["file"], meta["section"], meta["label"], text, 1.0) for meta, text in ordered][:k]
        if len(passages) < k:
            others = [p for p in self.search(resolved, k + len(passages)) if p.label != resolved]
            passages += others[: k - len(passages)]
        return passages

    def search(self, question: str, k: int = 5, labels: list[str] | None = None) -> list[Passage]:
        """Passages closest in meaning to ``question``, optionally only from ``labels``' files."""
        count = self.collection.count()
        if count == 0 or k <= 0:
            return []
        where = None
        if labels:
            resolved = sorted({self.resolve_label(label) or label for label in labels})
            where = {"label": {"$in": resolved}}
        result = self.collection.query(
            query_embeddings=self.embed([question]),
            n_results=min(k, count),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            Passage(meta["file"], meta["section"], meta["label"], document, round(1.0 - float(distance), 6))
            for document, meta, distance in zip(
                result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]
