"""The answering bundle, read: what a small machine needs to answer, in one folder, without torch.

``python -m assistant bundle`` (``bundle_writer``) writes it on the full install; ``--bundle DIR``
answers from it with ONNX Runtime. The folder is laid out as a data directory, so the rest of the
product finds its parts where it always looks::

    bundle.json                      what it holds and where it came from; every file's size and sha256
    runs/<run>/export.json, *.onnx   the active classifier's ONNX export (fp32 or int8)
    runs/<run>/calibration.json      its fusion weight and unknown thresholds
    frame_index/                     the FAISS frame index as built (calibration.json when no classifier)
    frame_encoder.onnx               the index encoder's ONNX export
    kb/*.md, kb_snapshot/            the knowledge base's files and their embedded passages (read-only)
    text_encoder/                    the KB's sentence model (all-MiniLM-L6-v2) as ONNX, with its tokenizer

Opening checks the record and every file's size, so a bundle copied half-way or edited by hand
is refused with the name of the file, before any model is loaded.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ArtifactError
from indexing.encoders.onnx_encoder import OnnxFrameEncoder
from indexing.frames.frame_index import FrameIndex
from indexing.kb.knowledge_base import KnowledgeBase
from indexing.kb.minilm_onnx import OnnxMiniLM
from training.models.onnx_classifier import OnnxClassifier
from training.models.onnx_model import OnnxModel

BUNDLE_FILE = "bundle.json"
FORMAT = "activity-bundle"
FORMAT_VERSION = 1
ENCODER_FILE = "frame_encoder.onnx"
INDEX_DIR = "frame_index"
KB_DIR = "kb"
KB_SNAPSHOT_DIR = "kb_snapshot"
TEXT_ENCODER_DIR = "text_encoder"
EXPORT_MANIFEST = "export.json"


@dataclass(frozen=True)
class Bundle:
    root: Path
    record: dict[str, Any]

    @classmethod
    def open(cls, root: str | Path) -> "Bundle":
        """The bundle in ``root``, its record read and every file it lists checked by size."""
        root = Path(root)
        path = root / BUNDLE_FILE
        if root.suffix == ".zip" and root.is_file():
            raise ArtifactError(f"{root} is a zipped bundle; unzip it first (python -m zipfile -e {root} <folder>).")
        if not path.is_file():
            raise ArtifactError(
                f"{root} is not an answering bundle (no {BUNDLE_FILE}); write one with "
                "`python -m assistant bundle --out DIR` on the full install."
            )
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ArtifactError(f"{path} is not readable ({error}); write the bundle again.") from error
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise ArtifactError(f"{path} is not an answering bundle record.")
        if record.get("format_version", 0) > FORMAT_VERSION:
            raise ArtifactError(f"{path} was written by a newer version of this code; update it here.")
        bundle = cls(root, record)
        bundle.check_files()
        return bundle

    def check_files(self) -> None:
        """Every listed file present with its recorded size (a copy cut short, or a file edited by hand, is not)."""
        for name, facts in self.record.get("files", {}).items():
            path = self.root / name
            if not path.is_file():
                raise ArtifactError(f"The bundle in {self.root} is incomplete: {name} is missing; copy it again.")
            if path.stat().st_size != facts["bytes"]:
                raise ArtifactError(
                    f"The bundle in {self.root} is damaged: {name} is {path.stat().st_size} bytes, "
                    f"{facts['bytes']} were written; copy the bundle again."
                )

    @property
    def classifier_dir(self) -> Path | None:
        run = (self.record.get("classifier") or {}).get("run")
        return self.root / "runs" / run if run else None

    @property
    def has_index(self) -> bool:
        return bool(self.record.get("index"))

    def classifier(self) -> tuple[OnnxClassifier, Path] | None:
        """The exported classifier and its manifest's path (what answers name as the checkpoint), or None."""
        folder = self.classifier_dir
        if folder is None:
            return None
        classifier = OnnxClassifier.from_export(folder, precision=self.record["classifier"]["precision"])
        return classifier, folder / EXPORT_MANIFEST

    def frame_index(self) -> tuple[FrameIndex, OnnxFrameEncoder] | None:
        """The frame index (memory-mapped, read-only) with the ONNX encoder that queries it, or None."""
        if not self.has_index:
            return None
        index = FrameIndex.load(self.root / INDEX_DIR, read_only=True)
        encoder = OnnxFrameEncoder(OnnxModel(self.root / ENCODER_FILE, kind="frame_encoder"))
        index.check_encoder(encoder)
        return index, encoder

    def knowledge_base(self) -> KnowledgeBase:
        """The KB as it was when the bundle was written (read-only), questions embedded by the ONNX MiniLM."""
        return KnowledgeBase.from_snapshot(
            self.root / KB_DIR, self.root / KB_SNAPSHOT_DIR, OnnxMiniLM(self.root / TEXT_ENCODER_DIR)
        )

    def describe(self) -> str:
        """One line for logs and the app: what answers, from where."""
        classifier = self.record.get("classifier") or {}
        what = f"{classifier.get('model')} ({classifier.get('precision')})" if classifier else "no classifier"
        return f"bundle {self.root} ({what}, written {self.record.get('created', '?')})"
