"""From a folder of labelled clips to a working assistant in one call.

A dataset name (``ucf101``) or the URL of an archive is downloaded and unpacked first (resumable,
with mirrors; training.data.download), so every later step sees a folder. Then:
prepare (frame cache) -> train the offline-capable default model (EfficientNet-Lite0 per frame,
frozen ImageNet backbone, a few epochs: minutes on a CPU) -> evaluate it on the test split ->
index the training frames -> sync the knowledge base -> make the new checkpoint the active one
-> calibrate the fusion.

A dataset too small to train on (an activity without a training and a validation recording:
one or two clips each, say) is set up in few-shot mode instead: every clip is indexed as an
example, no classifier is trained, and answers come from matching the clips' frames, judged by
the open-set floors the library measures on itself (``open_set``, leave one recording out).
Each step is a library call the CLI and the app's setup button share; progress is reported
per step through one callback (the CLI shows tqdm bars, the app a progress bar).
"""

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.jobs.calibrate import calibrate, save_result
from assistant.runtime.active_checkpoint import set_active_checkpoint
from assistant.runtime.resources import Resources
from core.labels import is_negative
from core.settings import Settings
from indexing.encoders.encoder_export import chosen_export, ensure_encoder_export
from indexing.encoders.onnx_encoder import runtime_encoder
from indexing.encoders.pretrained import shared_backbone_encoder
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from indexing.kb.knowledge_base import KnowledgeBase
from training.data.download.source import is_remote, resolve_source
from training.data.frame_cache import FrameCache
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source
from training.data.sources.types import SourceClip
from training.device import pick_device
from training.evaluate.evaluation import evaluate
from training.export.run_export import export_run
from training.fit.trainer import TrainConfig, train
from training.models.runtime_choice import onnx_for_checkpoint
from training.runs import CHECKPOINT, resolve_run_dir
from video.decoding import VideoLimits

log = logging.getLogger(__name__)
Progress = Callable[[float, str], Any]

# Step name -> share of the total time (roughly, on a CPU), for one progress bar over all steps.
STEPS = {
    "prepare": 0.2,
    "train": 0.37,
    "evaluate": 0.05,
    "export": 0.03,
    "index": 0.2,
    "knowledge base": 0.05,
    "activate": 0.02,
    "calibrate": 0.08,
}


@dataclass(frozen=True)
class SetupOptions:
    """Defaults chosen to work offline on a laptop CPU; every field has a CLI flag."""

    layout: str = "auto"
    model: str = "effnet_frames"
    epochs: int = 3
    batch_size: int = 8
    lr: float = 1e-3
    num_frames: int = 8
    size: int = 128
    num_clips: int = 2
    encoder: str | None = None  # default: the classifier's own backbone at the cache's size (shared features)
    frames_per_clip: int = 8
    workers: int = 2
    calibrate: bool = True
    # Train the head from the feature store (one backbone pass for training, evaluation and the
    # index); False: the old path, from pixels every epoch (kept for comparison).
    cached_features: bool = True


FEW_SHOT_PROMISE = (
    "few-shot mode: {reason}, so no classifier was trained; every clip is an example in the frame index. "
    "Answers name an activity when a clip's frames match its examples better than clips of other activities "
    "match them (floors measured by asking each recording with itself left out); expect fewer activities "
    "named correctly than a trained model gives, and add more clips per activity (3 or more, from different "
    "recordings) and run setup again to train one."
)


def few_shot_reason(clips: Sequence[SourceClip]) -> str | None:
    """Why ``clips`` are too few to train and validate a classifier on, or None when they are not."""
    for label in sorted({clip.label for clip in clips if not is_negative(clip.label)}):
        splits = {clip.split for clip in clips if clip.label == label}
        if not {"train", "val"} <= splits:
            count = len({clip.group for clip in clips if clip.label == label})
            return f"{label} has {count} recording(s), too few for a training and a validation split"
    return None


@dataclass
class SetupReport:
    prepared_dir: Path
    clips: int = 0
    failed: int = 0
    classes: list[str] = field(default_factory=list)
    checkpoint: Path | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    indexed_frames: int = 0
    indexed_clips: int = 0
    encoder: str | None = None
    kb_summary: str = ""
    calibration: str | None = None
    few_shot: str | None = None  # why the dataset was set up in few-shot mode
    exported: str | None = None  # the ONNX export answers will use, and how it agreed with torch
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"prepared {self.clips} clips of {len(self.classes)} classes ({', '.join(self.classes)}) "
            f"in {self.prepared_dir}" + (f"; {self.failed} failed to decode" if self.failed else "")
        ]
        if self.few_shot is None:
            lines.append(
                f"trained {self.checkpoint} (best val accuracy {_percent(self.val_acc)}, "
                f"test accuracy {_percent(self.test_acc)})"
            )
        else:
            lines.append(FEW_SHOT_PROMISE.format(reason=self.few_shot))
        lines += [
            f"indexed {self.indexed_frames} frames of {self.indexed_clips} clips with {self.encoder}",
            f"knowledge base: {self.kb_summary}",
        ]
        if self.few_shot is None:
            lines.append(f"active checkpoint: {self.checkpoint}")
        if self.exported:
            lines.append(f"ONNX export: {self.exported}")
        if self.calibration:
            lines.append(f"calibration: {self.calibration}")
        lines.append("time: " + ", ".join(f"{step} {s:.0f} s" for step, s in self.seconds.items()))
        return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "-" if value is None or value < 0 else f"{value:.1%}"


class _Steps:
    """Reports the start of each step as a fraction of the whole run and times it."""

    def __init__(self, progress: Progress | None, report: SetupReport):
        self.progress = progress or (lambda fraction, message: None)
        self.report = report
        self.done = 0.0

    def run(self, name: str, message: str, work: Callable[[], Any]) -> Any:
        self.progress(self.done, f"{name}: {message}")
        log.info("setup: %s (%s)", name, message)
        started = time.perf_counter()
        result = work()
        self.report.seconds[name] = round(time.perf_counter() - started, 1)
        # A step outside STEPS (the optional download) has no predictable share; its tqdm bar shows bytes.
        self.done = min(1.0, self.done + STEPS.get(name, 0.0))
        return result


def _exports_on_cpu(settings: Settings) -> bool:
    """Whether setup makes ONNX exports: the runtime may use them and the models run on the CPU."""
    return settings.runtime != "torch" and pick_device(settings.device).type == "cpu"


def _export_for_answers(run_dir: Path, prepared: Path, settings: Settings) -> str | None:
    """The trained run exported to ONNX, so answers under ``auto`` run on ONNX Runtime once it agreed with
    torch and ran faster on held-out clips (``runtime_choice``); what answers will use, in words. An optional
    speed-up: under ``auto`` a failure is logged and torch answers; under ``onnx`` it is raised."""
    try:
        manifest = export_run(run_dir, data=prepared)
    except Exception as error:  # torch.onnx and ONNX Runtime raise their own types; all mean "no export"
        if settings.runtime == "onnx":
            raise
        log.warning("no ONNX export of %s (%s): torch answers", run_dir, error)
        return None
    agreement = manifest["parity"][manifest["serve"]]["top1_agreement"]
    used = onnx_for_checkpoint(run_dir / CHECKPOINT, settings.runtime) is not None
    verdict = "answers use it" if used else "torch answers (the export did not both agree and run faster)"
    return f"{manifest['serve']}, top-1 agreement with torch {agreement:.0%} on held-out clips; {verdict}"


def _feature_backbone(options: SetupOptions, settings: Settings) -> str | None:
    """An ONNX export of the frozen backbone, when the runtime setting picks one, to fill the feature store.

    On the CPU under ``auto`` or ``onnx`` a missing export is made first: it costs about a second and
    filled the store 2.2x faster on 2 idle cores (``benchmarks/setup.py --runtimes``); the index step
    and later answers then use it too whenever ``runtime_encoder`` does."""
    shared = shared_backbone_encoder(options.model, options.size)
    if shared is None:
        return None
    if _exports_on_cpu(settings):
        ensure_encoder_export(shared, settings)
    path = chosen_export(shared, settings)
    return str(path) if path else None


def run_setup(
    source: str | os.PathLike,
    settings: Settings,
    options: SetupOptions = SetupOptions(),
    *,
    progress: Progress | None = None,
) -> SetupReport:
    """Build everything the assistant needs from ``source`` (a folder, ``ucf101`` or an archive URL);
    raises AssistantError subclasses."""
    prepared = settings.prepared_dir
    report = SetupReport(prepared_dir=prepared)
    steps = _Steps(progress, report)
    if is_remote(source):
        source = steps.run("download", f"fetching {source}", lambda: resolve_source(source, settings))
    source = Path(source)
    limits = VideoLimits(max_bytes=settings.max_file_bytes, max_duration_s=settings.max_duration_s)
    few_shot_encoder = options.encoder or "auto"

    def prepare() -> None:
        clips = load_source(source, options.layout)
        report.few_shot = few_shot_reason(clips)
        # Few-shot examples are decoded at the size the index's encoder reads (see new_library_sampling).
        size = (get_encoder(few_shot_encoder).image_size or options.size) if report.few_shot else options.size
        config = PrepareConfig(options.num_frames, size, options.num_clips)
        result = prepare_dataset(clips, prepared, config, workers=options.workers, limits=limits, source=str(source))
        cache = FrameCache(prepared)
        report.clips, report.failed, report.classes = len(cache.rows()), len(result.failures), cache.classes

    def fit() -> None:
        config = TrainConfig(
            model=options.model,
            data=str(prepared),
            epochs=options.epochs,
            batch_size=options.batch_size,
            lr=options.lr,
            freeze_backbone=True,
            patience=0,
            cached_features=options.cached_features,
            feature_backbone=_feature_backbone(options, settings),
            device=settings.device,
        )
        run_dir = resolve_run_dir(settings.runs_dir, options.model, None, resume=False)
        metrics = train(config, run_dir, argv=["setup", str(source)])
        report.checkpoint, report.val_acc = run_dir / CHECKPOINT, metrics.get("best_val_acc")

    def test() -> None:
        if FrameCache(prepared).rows("test"):
            assert report.checkpoint is not None
            report.test_acc = evaluate(report.checkpoint, prepared, "test")["video_level"]["accuracy"]

    def export() -> None:
        assert report.checkpoint is not None
        report.exported = _export_for_answers(report.checkpoint.parent, prepared, settings)

    def index() -> None:
        trained_encoder = shared_backbone_encoder(options.model, options.size)
        name = few_shot_encoder if report.few_shot else (options.encoder or trained_encoder or "auto")
        encoder = runtime_encoder(get_encoder(name).to(pick_device(settings.device)), settings)  # where training ran
        # Few-shot: every clip is an example; trained: only training clips, so the test split stays honest.
        splits = ("train", "val", "test") if report.few_shot else ("train",)
        built = build_frame_index(
            prepared, settings.index_dir, encoder, frames_per_clip=options.frames_per_clip, splits=splits
        )
        report.indexed_frames, report.indexed_clips, report.encoder = len(built), len(built.clip_ids()), encoder.name

    def sync_kb() -> None:
        report.kb_summary = KnowledgeBase.from_settings(settings).sync().summary()

    def activate() -> None:
        assert report.checkpoint is not None
        report.checkpoint = set_active_checkpoint(settings, report.checkpoint)

    def calibrate_fusion() -> None:
        resources = Resources.load(settings)
        result = calibrate(prepared, resources)
        save_result(result, resources)
        fusion = result.fusion
        report.calibration = (
            f"classifier weight {fusion.classifier_weight:.1f}, unknown below {fusion.unknown_threshold:.2f}"
        )

    steps.run("prepare", f"decoding the clips in {source}", prepare)
    if report.few_shot is None:
        steps.run("train", f"training {options.model} for {options.epochs} epochs (frozen backbone)", fit)
        steps.run("evaluate", "scoring the model on the test split", test)
        if _exports_on_cpu(settings):
            steps.run("export", "exporting the model to ONNX and checking it against torch", export)
    else:
        log.warning("setup: %s", FEW_SHOT_PROMISE.format(reason=report.few_shot))
    steps.run("index", "embedding the frames" if report.few_shot else "embedding the training frames", index)
    steps.run("knowledge base", f"syncing {settings.kb_dir}", sync_kb)
    if report.few_shot is None:
        steps.run("activate", "making the new checkpoint the active one", activate)
        if options.calibrate:
            steps.run("calibrate", "choosing the fusion weight on the validation split", calibrate_fusion)
    steps.progress(1.0, "done")
    return report
