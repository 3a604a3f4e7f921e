"""The assistant as one object: what the app, the CLI and the tests call.

It owns the current resource snapshot and the chosen answer writer. Before each clip and each
answer it runs a cheap change check; when a checkpoint, the index or the calibration changed,
it builds a new snapshot and swaps one reference, so a newly trained checkpoint, a rebuilt
index or an edited KB file is used by the next request without a restart, while a request
already running keeps the snapshot it started with (classes and probabilities from one
checkpoint, neighbours from one index). Safe to share between request threads.
"""

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel

from assistant.analysis.gather import Progress, gather_evidence
from assistant.answering.chain import answer_stream, collect_answer
from assistant.answering.llm import OFFLINE, ChatBackend, select_backend
from assistant.evidence import Evidence, FusionSettings, MissingPart
from assistant.runtime.resources import Resources
from core.errors import LLMError
from core.settings import Settings
from indexing.kb.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
DEFAULT_QUESTION = "What is happening in this clip?"


class AssistantStatus(BaseModel):
    """What is built and in use, and what is missing with the command that builds it."""

    checkpoint: str | None
    model: str | None
    classes: list[str]
    encoder: str | None
    index_dir: str | None
    indexed_clips: int
    indexed_frames: int
    index_labels: list[str]
    kb_dir: str | None
    kb_labels: list[str]
    llm: str
    llm_note: str | None
    fusion: FusionSettings
    missing: list[MissingPart]
    notes: list[str]


class Assistant:
    def __init__(
        self, settings: Settings | None = None, *, resources: Resources | None = None, llm: str | None = None
    ) -> None:
        self.settings = settings or Settings()
        self._resources = resources or Resources.load(self.settings)
        self._lock = threading.Lock()  # one snapshot built at a time
        self.backend, self.llm_note = self._choose_backend(llm)

    def _choose_backend(self, provider: str | None) -> tuple[ChatBackend, str | None]:
        """The configured writer; when it cannot be set up, the offline one plus a note saying why."""
        try:
            return select_backend(self.settings, provider), None
        except LLMError as error:
            log.warning("answering offline: %s", error)
            return OFFLINE, f"> **Note:** the configured language model is not available ({error}). Answering offline."

    @property
    def resources(self) -> Resources:
        """The current snapshot, as it is (``snapshot()`` checks for changes first)."""
        return self._resources

    @property
    def knowledge_base(self) -> KnowledgeBase:
        """The process's one KB: the app's editor writes through it, so edits and answers share its lock."""
        return self._resources.shared_kb.kb

    def snapshot(self) -> Resources:
        """The snapshot a request should use: rebuilt first if a file changed (cheap when nothing did)."""
        current = self._resources
        if current.is_current():
            current.sync_kb()
            return current
        with self._lock:
            if self._resources is current:  # no other request rebuilt it meanwhile
                self._swap()
            return self._resources

    def refresh(self) -> None:
        """Pick up changed checkpoints, indexes and KB files (cheap when nothing changed)."""
        self.snapshot()

    def reload(self) -> None:
        """Rebuild the snapshot now (after switching the active checkpoint, for instance)."""
        with self._lock:
            self._swap()

    def _swap(self) -> None:
        old = self._resources
        self._resources = Resources.load(self.settings, shared_kb=old.shared_kb, zero_shot=old.zero_shot)
        log.info("resources reloaded: %s", self._resources.names)

    def analyse(self, video_path: str | os.PathLike, progress: Progress | None = None) -> Evidence:
        """The evidence for one clip, from one snapshot; raises VideoError for unreadable or too large files."""
        return gather_evidence(video_path, self.snapshot(), self.settings, progress=progress)

    def answer_stream(self, question: str, evidence: Evidence, history: Iterable[Any] | None = None) -> Iterator[str]:
        """Chunks of markdown; ``history`` is the chat so far (empty for the first question).

        A ``Replacement`` chunk (a model answer that failed its grounding check) replaces the
        text streamed before it; ``answer`` and the UI do that, a terminal just prints it next.
        """
        resources = self.snapshot()
        if self.llm_note:
            yield self.llm_note + "\n\n"
        yield from answer_stream(
            question or DEFAULT_QUESTION,
            evidence,
            history,
            self.backend,
            resources.kb,
            secret=self.settings.google_api_key,
        )

    def answer(self, question: str, evidence: Evidence, history: Iterable[Any] | None = None) -> str:
        return collect_answer(self.answer_stream(question, evidence, history))

    def ask(self, video_path: str | os.PathLike, question: str = DEFAULT_QUESTION) -> tuple[Evidence, str]:
        evidence = self.analyse(video_path)
        return evidence, self.answer(question, evidence)

    def status(self) -> AssistantStatus:
        r = self.snapshot()
        index_records = r.index.records.values() if r.index is not None else []
        return AssistantStatus(
            checkpoint=str(r.checkpoint) if r.checkpoint else None,
            model=r.classifier.name if r.classifier else None,
            classes=list(r.classifier.classes) if r.classifier else [],
            encoder=r.encoder.name if r.encoder else None,
            index_dir=str(self.settings.index_dir) if r.index is not None else None,
            indexed_clips=len({record.clip_id for record in index_records}),
            indexed_frames=len(r.index) if r.index is not None else 0,
            index_labels=r.index.classes() if r.index is not None else [],
            kb_dir=str(self.settings.kb_dir) if r.kb is not None else None,
            kb_labels=sorted(r.kb.entries()) if r.kb is not None else [],
            llm=self.backend.name,
            llm_note=self.llm_note,
            fusion=r.fusion,
            missing=list(r.missing),
            notes=list(r.notes),
        )
