"""What answering needs loaded: the active classifier, the frame index with its encoder, the KB.

Loading models takes seconds, so it happens once and the object is kept by its owner (the
``Assistant``, a CLI run, a benchmark). Each part is optional: a part that cannot load is
recorded as missing, with the reason and the command that builds it, and answering goes on
without it. ``refresh`` reloads only parts whose files changed (a cheap stat check), so a
newly trained model, a rebuilt index or an edited KB is picked up by the next answer. The CLIP
zero-shot scorer alone loads on first need, since most answers never need it.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from assistant.analysis.evidence import FusionSettings, MissingPart
from assistant.analysis.fusion import DEFAULT_FUSION
from assistant.library.active_checkpoint import find_active_checkpoint
from assistant.library.calibration import calibration_path, load_fusion
from assistant.zeroshot.scorer import ZeroShotScorer
from core.errors import AssistantError
from core.settings import Settings
from indexing.clip_model import ClipSettings
from indexing.encoders import FrameEncoder
from indexing.frame_index import MANIFEST_FILE, FrameIndex, open_frame_index
from indexing.knowledge_base import KnowledgeBase
from training.inference import Classifier

log = logging.getLogger(__name__)


def _fingerprint(path: Path | None) -> tuple | None:
    """Changes whenever the file is replaced or rewritten."""
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


def build_commands(settings: Settings) -> dict[str, str]:
    """The command that builds each part, with this installation's paths filled in."""
    data = settings.data_dir
    prepared = settings.prepared_dir
    return {
        "prepared data": f"python -m training prepare --source <folder of labelled videos> --out {prepared}",
        "classifier": f"python -m training train --model effnet_frames --data {prepared} --out {settings.runs_dir}",
        "frame index": f"python -m indexing frames --data {prepared} --data-dir {data}",
        "knowledge base": f"python -m indexing kb --kb-dir {settings.kb_dir} --data-dir {data}",
        "calibration": f"python -m assistant calibrate --data {prepared} --data-dir {data}",
        "zero-shot": "ACTIVITY_CLIP_WEIGHTS=<OpenCLIP weights file> (or copy it into the Hugging Face cache)",
    }


@dataclass
class Resources:
    settings: Settings
    classifier: Classifier | None = None
    checkpoint: Path | None = None
    index: FrameIndex | None = None
    encoder: FrameEncoder | None = None
    kb: KnowledgeBase | None = None
    fusion: FusionSettings = DEFAULT_FUSION
    missing: list[MissingPart] = field(default_factory=list)
    clip: ClipSettings = field(default_factory=ClipSettings)
    _zero_shot: ZeroShotScorer | None = field(default=None, repr=False)
    _notes: list[str] = field(default_factory=list, repr=False)
    _kb_notes: list[str] = field(default_factory=list, repr=False)
    _fingerprints: dict[str, tuple | None] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, settings: Settings) -> "Resources":
        resources = cls(settings)
        resources.reload()
        return resources

    def reload(self) -> None:
        """Load every part afresh (after switching the active checkpoint, for instance)."""
        fingerprints = self._current_fingerprints()
        self.missing, self._notes, self._kb_notes = [], [], []
        self._load_classifier()
        self._load_index()
        self._load_kb()
        self._load_fusion()
        self._fingerprints = fingerprints

    def refresh(self) -> bool:
        """Reload if a checkpoint, index or calibration file changed; sync the KB if a file was edited.

        Returns True when the parts were reloaded.
        """
        if self._current_fingerprints() != self._fingerprints:
            self.reload()
            return True
        if self.kb is not None and self.kb.changed_since_sync():
            self._sync_kb()
        return False

    def _current_fingerprints(self) -> dict[str, tuple | None]:
        try:
            checkpoint = find_active_checkpoint(self.settings)
        except AssistantError:
            checkpoint = None
        return {
            "classifier": _fingerprint(checkpoint),
            "index": _fingerprint(self.settings.index_dir / MANIFEST_FILE),
            "fusion": _fingerprint(calibration_path(checkpoint, self.settings.index_dir)),
        }

    # -- parts ----------------------------------------------------------------------------------
    def _missing(self, name: str, reason: str) -> None:
        self.missing.append(MissingPart(name=name, reason=reason, fix=build_commands(self.settings)[name]))

    def _load_classifier(self) -> None:
        self.classifier, self.checkpoint = None, None
        try:
            path = find_active_checkpoint(self.settings)
            if path is None:
                self._missing("classifier", f"No trained classifier in {self.settings.runs_dir}.")
                return
            self.classifier = Classifier.from_checkpoint(path)
            self.checkpoint = path
        except AssistantError as error:
            self._missing("classifier", str(error))

    def _load_index(self) -> None:
        self.index, self.encoder = None, None
        root = self.settings.index_dir
        if not (root / MANIFEST_FILE).is_file():
            self._missing("frame index", f"No frame index in {root}.")
            return
        try:
            index, encoder = open_frame_index(root)
        except AssistantError as error:
            self._missing("frame index", str(error))
            return
        if len(index) == 0:
            self._missing("frame index", f"The frame index in {root} is empty.")
            return
        self.index, self.encoder = index, encoder

    def _load_kb(self) -> None:
        self.kb = None
        if not self.settings.kb_dir.is_dir():
            self._missing("knowledge base", f"Knowledge-base folder {self.settings.kb_dir} not found.")
            return
        self.kb = KnowledgeBase(self.settings.kb_dir, self.settings.chroma_dir)
        if self.kb.changed_since_sync():
            self._sync_kb()
        if self.kb is not None:
            # The sentence model loads on first use (seconds); do it here, not in the first answer.
            self.kb.search("warm-up", 1)

    def _sync_kb(self) -> None:
        assert self.kb is not None
        try:
            report = self.kb.sync()
        except AssistantError as error:
            self.kb = None
            self._missing("knowledge base", str(error))
            return
        # Replaced on every sync: a fixed file stops being reported.
        self._kb_notes = [f"KB file {file} was skipped: {reason}" for file, reason in report.skipped]

    def _load_fusion(self) -> None:
        self.fusion = DEFAULT_FUSION
        path = calibration_path(self.checkpoint, self.settings.index_dir if self.index else None)
        if path is None or not path.is_file():
            if self.classifier is not None or self.index is not None:
                self._notes.append(
                    "Fusion weight and unknown threshold are defaults, not calibrated "
                    f"(run `{build_commands(self.settings)['calibration']}`)."
                )
            return
        try:
            self.fusion = load_fusion(path)
        except AssistantError as error:
            log.warning("%s", error)
            self._notes.append(str(error))

    def zero_shot_scorer(self) -> ZeroShotScorer | None:
        """The CLIP scorer, loaded when first needed (seconds, hundreds of MB) and then kept.

        Without weights it is None and recorded as missing; asking again costs nothing.
        """
        if self._zero_shot is None:
            try:
                self._zero_shot = ZeroShotScorer.load(self.clip.spec(), self.settings.data_dir)
            except AssistantError as error:
                if "zero-shot" not in {part.name for part in self.missing}:
                    self._missing("zero-shot", str(error))
        return self._zero_shot

    # -- for the UI and the CLI -----------------------------------------------------------------
    @property
    def notes(self) -> list[str]:
        """Things every answer should mention (uncalibrated fusion, skipped KB files)."""
        return [*self._notes, *self._kb_notes]

    @property
    def names(self) -> dict[str, str | None]:
        """What is in use, by name: shown in the app and recorded in every evidence object."""
        return {
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "encoder": self.encoder.name if self.encoder else None,
            "index": str(self.settings.index_dir) if self.index else None,
            "kb": str(self.settings.kb_dir) if self.kb else None,
        }
