"""What answering needs loaded, as one immutable snapshot: classifier, frame index + encoder, KB, fusion.

Loading models takes seconds, so a snapshot is built once and kept by its owner (the
``Assistant``, a CLI run, a benchmark). It is never changed after it is built: when a
checkpoint, the index or the calibration changes on disk, the owner builds a new snapshot and
swaps one reference, while requests already running finish on the snapshot they started
with, so their classes, probabilities and neighbours always come from one consistent set of
files. Each part is optional: a part that cannot load is recorded as missing, with the reason
and the command that builds it, and answering goes on without it.

Two things are shared by successive snapshots instead of reloaded: the knowledge base (one
``KnowledgeBase`` per process, synced in place when a ``kb/`` file changes, so an edit never
needs a model reload) and the CLIP zero-shot scorer (loaded on first need, since most answers
never need it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.evidence import FusionSettings, MissingPart
from assistant.fusion import DEFAULT_FUSION
from assistant.runtime.active_checkpoint import find_active_checkpoint
from assistant.runtime.bundle import BUNDLE_FILE, Bundle
from assistant.runtime.calibration import calibration_path, load_fusion, with_open_set_floors
from assistant.runtime.open_set import weak_floor_note
from assistant.runtime.open_set_pooling import open_set_library
from assistant.runtime.segment_support import SegmentLibrary
from core.cli import FULL_INSTALL
from core.errors import AssistantError
from core.settings import Settings
from indexing.encoders.base import FrameEncoder
from indexing.encoders.onnx_encoder import runtime_encoder
from indexing.frames.frame_index import MANIFEST_FILE, FrameIndex, open_frame_index
from indexing.kb.knowledge_base import KnowledgeBase
from training.models.onnx_classifier import OnnxClassifier

if TYPE_CHECKING:  # torch modules: imported where they are used, so a bundle answers without torch
    from assistant.zeroshot.scorer import ZeroShotScorer
    from training.models.inference import Classifier

log = logging.getLogger(__name__)


def _fingerprint(path: Path | None) -> tuple | None:
    """Changes whenever the file is replaced or rewritten."""
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


def file_fingerprints(settings: Settings) -> dict[str, tuple | None]:
    """What a snapshot was built from: a cheap stat of each file whose change needs a reload."""
    try:
        checkpoint = find_active_checkpoint(settings)
    except AssistantError:
        checkpoint = None
    return {
        "classifier": _fingerprint(checkpoint),
        "index": _fingerprint(settings.index_dir / MANIFEST_FILE),
        "fusion": _fingerprint(calibration_path(checkpoint, settings.index_dir)),
        "bundle": _fingerprint(settings.bundle / BUNDLE_FILE if settings.bundle else None),
    }


BUILT_PARTS = ("prepared data", "classifier", "frame index", "knowledge base", "calibration")


def build_commands(settings: Settings) -> dict[str, str]:
    """The command that builds (or, for zero-shot, enables) each part, with this installation's paths filled in."""
    data = settings.data_dir
    prepared = settings.prepared_dir
    if settings.bundle is not None:
        rewrite = "write the bundle again on the full install (`python -m assistant bundle --out DIR`)"
        return {part: rewrite for part in BUILT_PARTS} | {"zero-shot": f"the full install (`{FULL_INSTALL}`)"}
    return {
        "prepared data": f"python -m training prepare --source <folder of labelled videos> --data-dir {data}",
        "classifier": f"python -m training train --model effnet_frames --data-dir {data}",
        "frame index": f"python -m indexing frames --data-dir {data}",
        "knowledge base": f"python -m indexing kb --kb-dir {settings.kb_dir} --data-dir {data}",
        "calibration": f"python -m assistant calibrate --data {prepared} --data-dir {data}",
        "zero-shot": "export ACTIVITY_CLIP_WEIGHTS=<OpenCLIP weights file>",
    }


def missing_part(settings: Settings, name: str, reason: str) -> MissingPart:
    return MissingPart(name=name, reason=reason, fix=build_commands(settings)[name])


class ZeroShotLoader:
    """The CLIP scorer, loaded when first needed (seconds, hundreds of MB) and then kept.

    Without weights it stays None and says why in ``missing``; asking again costs nothing.
    """

    def __init__(self, settings: Settings, bundle: Bundle | None = None) -> None:
        """``bundle``: the opened ``settings.bundle``, whose read-only KB snapshot this is."""
        self.settings = settings
        self._lock = threading.Lock()
        self._scorer: ZeroShotScorer | None = None
        self.missing: MissingPart | None = None

    def get(self) -> ZeroShotScorer | None:
        with self._lock:
            if self._scorer is None and self.missing is None:
                try:
                    self._scorer = self._load()
                except AssistantError as error:
                    self.missing = missing_part(self.settings, "zero-shot", str(error))
            return self._scorer

    def _load(self) -> ZeroShotScorer:
        try:  # OpenCLIP runs on torch: the full install
            from assistant.zeroshot.scorer import ZeroShotScorer
            from indexing.encoders.openclip_model import clip_spec
            from training.device import pick_device
        except ModuleNotFoundError as error:
            raise AssistantError(f"zero-shot needs the full install ({error.name} is not installed here)") from error
        spec, device = clip_spec(self.settings), pick_device(self.settings.device)
        return ZeroShotScorer.load(spec, self.settings.data_dir, device)


class SharedKnowledgeBase:
    """The process's one ``KnowledgeBase``, synced when its files change; notes say what was skipped."""

    def __init__(self, settings: Settings, bundle: Bundle | None = None) -> None:
        """``bundle``: the opened ``settings.bundle``, whose read-only KB snapshot this is."""
        self.settings = settings
        self._lock = threading.Lock()
        self.notes: list[str] = []
        self.error: str | None = None
        self._warmed = False
        self.kb: KnowledgeBase | None = None
        try:
            self.kb = bundle.knowledge_base() if bundle is not None else KnowledgeBase.from_settings(settings)
        except AssistantError as error:  # a bundle's KB that cannot be read: answers go on without it
            self.error = str(error)

    def available(self) -> KnowledgeBase | None:
        """The KB, synced first if a file changed; None (with ``error`` set) when it cannot be used."""
        if self.kb is None:
            return None
        if not self.settings.kb_dir.is_dir():
            self.error = f"Knowledge-base folder {self.settings.kb_dir} not found."
            return None
        with self._lock:
            if self.kb.changed_since_sync():
                try:
                    report = self.kb.sync()
                except AssistantError as error:
                    self.error = str(error)
                    return None
                # Replaced on every sync: a fixed file stops being reported.
                self.notes = [f"KB file {file} was skipped: {reason}" for file, reason in report.skipped]
            self.error = None
            if not self._warmed:
                # The sentence model loads on first use (seconds); do it here, not in the first answer.
                # With a Chroma server this is also the first request: a server that is down shows here.
                try:
                    self.kb.search("warm-up", 1)
                except AssistantError as error:
                    self.error = str(error)
                    return None
                self._warmed = True
        return self.kb


@dataclass(frozen=True)
class Resources:
    settings: Settings
    classifier: Classifier | OnnxClassifier | None = None  # the bundle's is an OnnxClassifier
    checkpoint: Path | None = None
    index: FrameIndex | None = None
    encoder: FrameEncoder | None = None
    kb: KnowledgeBase | None = None
    fusion: FusionSettings = DEFAULT_FUSION
    # The index's clips pooled for the open-set support (``segment_support``); built from ``index`` when not
    # given. Replace both together (a snapshot's library is its index's).
    segments: SegmentLibrary | None = None
    static_missing: tuple[MissingPart, ...] = ()
    static_notes: tuple[str, ...] = ()
    fingerprints: dict = field(default_factory=dict, repr=False)
    shared_kb: SharedKnowledgeBase | None = field(default=None, repr=False)
    zero_shot: ZeroShotLoader | None = field(default=None, repr=False)

    @classmethod
    def load(
        cls,
        settings: Settings,
        *,
        shared_kb: SharedKnowledgeBase | None = None,
        zero_shot: ZeroShotLoader | None = None,
    ) -> Resources:
        """A new snapshot of what is on disk now; ``shared_kb`` and ``zero_shot`` carry over from the last one."""
        fingerprints = file_fingerprints(settings)
        missing: list[MissingPart] = []
        notes: list[str] = []
        bundle = Bundle.open(settings.bundle) if settings.bundle is not None else None  # checks every file once
        classifier, checkpoint, index, encoder = _load_models(settings, bundle, missing)
        shared_kb = shared_kb or SharedKnowledgeBase(settings, bundle)
        kb = shared_kb.available()
        if kb is None:
            missing.append(missing_part(settings, "knowledge base", shared_kb.error or "unavailable"))
        fusion = _load_fusion(settings, checkpoint, index, notes, any_model=classifier is not None or index is not None)
        segments = None
        if index is not None:
            segments, open_set = open_set_library(index)
            fusion = with_open_set_floors(fusion, open_set)
            notes += [note] if (note := weak_floor_note(open_set)) else []
        return cls(
            settings=settings,
            classifier=classifier,
            checkpoint=checkpoint,
            index=index,
            encoder=encoder,
            kb=kb,
            fusion=fusion,
            segments=segments,
            static_missing=tuple(missing),
            static_notes=tuple(notes),
            fingerprints=fingerprints,
            shared_kb=shared_kb,
            zero_shot=zero_shot or ZeroShotLoader(settings),
        )

    def __post_init__(self) -> None:
        if self.index is not None and self.segments is None:
            object.__setattr__(self, "segments", SegmentLibrary.of(self.index))

    def is_current(self) -> bool:
        """False when a checkpoint, the index or the calibration changed since this snapshot was built."""
        return file_fingerprints(self.settings) == self.fingerprints

    def sync_kb(self) -> None:
        """Pick up edited ``kb/`` files (cheap when nothing changed); the KB object is shared, not reloaded."""
        if self.shared_kb is not None and self.kb is not None:
            self.shared_kb.available()

    def zero_shot_scorer(self) -> ZeroShotScorer | None:
        return self.zero_shot.get() if self.zero_shot is not None else None

    # -- for the UI and the CLI -----------------------------------------------------------------
    @property
    def missing(self) -> list[MissingPart]:
        """Parts that are not available, each with the command that builds it."""
        extra = [self.zero_shot.missing] if self.zero_shot is not None and self.zero_shot.missing else []
        return [*self.static_missing, *extra]

    @property
    def notes(self) -> list[str]:
        """Things every answer should mention (uncalibrated fusion, skipped KB files)."""
        kb_notes = self.shared_kb.notes if self.shared_kb is not None and self.kb is not None else []
        return [*self.static_notes, *kb_notes]

    @property
    def names(self) -> dict[str, str | None]:
        """What is in use, by name: shown in the app and recorded in every evidence object."""
        return {
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "encoder": self.encoder.name if self.encoder else None,
            "index": str(self.settings.index_dir) if self.index else None,
            "kb": str(self.settings.kb_dir) if self.kb else None,
        }


def _load_models(settings: Settings, bundle: Bundle | None, missing: list[MissingPart]) -> tuple:
    """(classifier, its checkpoint, frame index, encoder): from the bundle, else from the data directory."""
    if bundle is not None:
        return _load_bundle_models(bundle, settings, missing)
    from training.device import pick_device  # torch: the full install

    device = pick_device(settings.device)  # a GPU asked for but absent is an error, not a missing part
    return (*_load_classifier(settings, device, missing), *_load_index(settings, device, missing))


def _load_bundle_models(bundle: Bundle, settings: Settings, missing: list[MissingPart]) -> tuple:
    log.info("answering from %s", bundle.describe())
    classifier = _bundle_part(bundle.classifier, "classifier", bundle, settings, missing)
    index = _bundle_part(bundle.frame_index, "frame index", bundle, settings, missing)
    return (*(classifier or (None, None)), *(index or (None, None)))


def _bundle_part(load, name: str, bundle: Bundle, settings: Settings, missing: list[MissingPart]) -> tuple | None:
    """``load()``; None, recorded as a missing part with the reason, when the bundle lacks it or it cannot load."""
    try:
        part = load()
    except AssistantError as error:
        missing.append(missing_part(settings, name, str(error)))
        return None
    if part is None:
        missing.append(missing_part(settings, name, f"The bundle in {bundle.root} holds no {name}."))
    return part


def _load_classifier(settings: Settings, device, missing: list[MissingPart]) -> tuple[Classifier | None, Path | None]:
    from training.models.inference import Classifier  # torch: the full install

    try:
        path = find_active_checkpoint(settings)
        if path is None:
            missing.append(missing_part(settings, "classifier", f"No trained classifier in {settings.runs_dir}."))
            return None, None
        return Classifier.from_checkpoint(path, device=device, runtime=settings.runtime), path
    except AssistantError as error:
        missing.append(missing_part(settings, "classifier", str(error)))
        return None, None


def _load_index(
    settings: Settings, device, missing: list[MissingPart]
) -> tuple[FrameIndex | None, FrameEncoder | None]:
    root = settings.index_dir
    if not (root / MANIFEST_FILE).is_file():
        missing.append(missing_part(settings, "frame index", f"No frame index in {root}."))
        return None, None
    try:
        index, encoder = open_frame_index(root, read_only=True)  # memory-mapped, shared by replicas
        encoder = runtime_encoder(encoder.to(device), settings)  # ONNX Runtime when an export is chosen
    except AssistantError as error:
        missing.append(missing_part(settings, "frame index", str(error)))
        return None, None
    if len(index) == 0:
        missing.append(missing_part(settings, "frame index", f"The frame index in {root} is empty."))
        return None, None
    return index, encoder


def _load_fusion(
    settings: Settings, checkpoint: Path | None, index: FrameIndex | None, notes: list[str], *, any_model: bool
) -> FusionSettings:
    path = calibration_path(checkpoint, settings.index_dir if index is not None else None)
    if path is None or not path.is_file():
        if any_model:
            notes.append(
                "Fusion weight and unknown threshold are defaults, not calibrated "
                f"(run `{build_commands(settings)['calibration']}`)."
            )
        return DEFAULT_FUSION
    try:
        return load_fusion(path)
    except AssistantError as error:
        log.warning("%s", error)
        notes.append(str(error))
        return DEFAULT_FUSION
