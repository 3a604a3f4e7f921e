"""Export one training run: ONNX files, optional int8, measured against torch, then the manifest.

A frozen-backbone frame model is exported as two graphs, its backbone (uint8 frames -> features)
and its head (features -> probabilities), so the answer path can still run the backbone once for
the classifier and the frame search, and the feature store can be filled from the backbone file.
Every other model is one graph (uint8 clips -> probabilities). ``int8`` quantises the expensive
graph (the backbone, or the whole model) calibrated on the run's own cached training clips, and
the export measures each precision against torch on held-out cached clips before the manifest
names it: what ``ACTIVITY_RUNTIME=auto`` later trusts.
"""

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.digest import file_sha256
from core.errors import ArtifactError, DatasetError
from training.data.frame_cache import FrameCache
from training.export.int8 import quantize_int8
from training.export.parity import mean_cosine, passes, top1_agreement
from training.export.to_onnx import ClipGraph, FrameGraph, HeadGraph, export_graph
from training.models.checkpoint import load_classifier
from training.models.export_manifest import default_export_dir, write_manifest
from training.models.export_metadata import ExportMetadata
from training.models.frame_features import shared_feature_key
from training.models.inference import Classifier
from training.models.onnx_classifier import OnnxClassifier
from training.runs import ARGS, checkpoint_path, read_json

log = logging.getLogger(__name__)


def _spread(rows: list, count: int) -> list:
    """``count`` rows spread over the list (the manifest is sorted by class, so this spans classes)."""
    if len(rows) <= count:
        return rows
    return [rows[i] for i in np.linspace(0, len(rows) - 1, count).round().astype(int)]


def cached_clips(cache: FrameCache, splits: tuple[str, ...], count: int) -> np.ndarray:
    """uint8 (count, T, S, S, 3): the first cached clip of ``count`` videos of the first split that has any."""
    for split in splits:
        rows = _spread(cache.rows(split), count)
        if rows:
            return np.stack([np.asarray(cache.load_frames(row.clip_id)[0]) for row in rows])
    raise DatasetError(f"{cache.root} has no clips in {', '.join(splits)}; the export needs some to calibrate on.")


def run_cache(run_dir: Path, data: str | Path | None) -> FrameCache:
    """The prepared data the run trained on (its args.json), or ``data``."""
    if data is None:
        args = read_json(Path(run_dir) / ARGS) or {}
        data = (args.get("config") or {}).get("data")
    if not data:
        raise ArtifactError(f"{run_dir} does not say which data it trained on; pass --data PREPARED_DIR.")
    return FrameCache(data)


def _per_second(count: int, work) -> float:
    work()  # warm-up: first runs allocate and pick kernels
    start = time.perf_counter()
    work()
    return count / max(time.perf_counter() - start, 1e-9)


def _measure(torch_classifier: Classifier, exported: OnnxClassifier, clips: np.ndarray) -> dict[str, Any]:
    reference = torch_classifier.predict_proba(clips)
    probabilities = exported.predict_proba(clips)
    figures: dict[str, Any] = {
        "clips": len(clips),
        "top1_agreement": top1_agreement(reference, probabilities),
        "max_probability_diff": float(np.abs(reference - probabilities).max()),
        "clips_per_s": _per_second(len(clips), lambda: exported.predict_proba(clips)),
    }
    if "backbone" in exported.parts:
        frames = clips.reshape(-1, *clips.shape[2:])
        figures["feature_cosine"] = mean_cosine(
            torch_classifier.frame_features(frames), exported.frame_features(frames)
        )
        figures["frames_per_s"] = _per_second(len(frames), lambda: exported.frame_features(frames))
    figures["passes"] = passes(exported.precision, figures["top1_agreement"], figures.get("feature_cosine"))
    return figures


def _torch_speed(classifier: Classifier, clips: np.ndarray) -> dict[str, float]:
    speed = {"clips_per_s": _per_second(len(clips), lambda: classifier.predict_proba(clips))}
    if classifier.feature_key is not None:
        frames = clips.reshape(-1, *clips.shape[2:])
        speed["frames_per_s"] = _per_second(len(frames), lambda: classifier.frame_features(frames))
    return speed


def export_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    int8: bool = False,
    data: str | Path | None = None,
    calibration_clips: int = 8,
    parity_clips: int = 24,
) -> dict[str, Any]:
    """Write the run's ONNX export into ``out_dir`` (default ``RUN/export``); returns the manifest."""
    run_dir = Path(run_dir)
    checkpoint = checkpoint_path(run_dir)
    loaded = load_classifier(checkpoint)
    source = file_sha256(checkpoint)
    out = Path(out_dir) if out_dir is not None else default_export_dir(checkpoint.parent)
    classifier = Classifier(loaded)
    model, p = loaded.model.eval(), loaded.preprocessing
    cache = run_cache(checkpoint.parent, data)
    out.mkdir(parents=True, exist_ok=True)
    calibration = np.stack([classifier.model_frames(c) for c in cached_clips(cache, ("train",), calibration_clips)])
    held_out = cached_clips(cache, ("test", "val", "train"), parity_clips)
    key = shared_feature_key(model, p)
    base = dict(
        model=loaded.name,
        source_sha256=source,
        input_size=p.crop_size,
        mean=tuple(p.mean),
        std=tuple(p.std),
        labels=tuple(loaded.classes),
        num_frames=p.num_frames,
        decode_size=p.decode_size,
        keep_aspect=p.keep_aspect,
        feature_key=key,
        feature_dim=int(getattr(model, "feature_dim", 0)),
        extra={"checkpoint": checkpoint.name, "torch": str(torch.__version__)},
    )
    if key is not None:
        heavy, heavy_input = "backbone", "frames"
        export_graph(
            FrameGraph(model.backbone, p.mean, p.std),
            torch.from_numpy(calibration[0, :2].copy()),
            out / "backbone.onnx",
            ExportMetadata(kind="backbone", **base),
            input_name=heavy_input,
        )
        head_example = torch.zeros(1, p.num_frames, model.feature_dim)
        export_graph(
            HeadGraph(model),
            head_example,
            out / "head.onnx",
            ExportMetadata(kind="head", **base),
            input_name="features",
        )
        files = {"fp32": {"backbone": "backbone.onnx", "head": "head.onnx"}}
        batches = [calibration[i].copy() for i in range(len(calibration))]  # one clip's frames per batch
    else:
        heavy, heavy_input = "classifier", "clips"
        export_graph(
            ClipGraph(model, p.mean, p.std),
            torch.from_numpy(calibration[:1].copy()),
            out / "classifier.onnx",
            ExportMetadata(kind="classifier", **base),
            input_name=heavy_input,
        )
        files = {"fp32": {"classifier": "classifier.onnx"}}
        batches = [calibration[i : i + 1].copy() for i in range(len(calibration))]
    if int8:
        log.info("int8: calibrating on %d cached training clips", len(calibration))
        quantize_int8(
            out / f"{heavy}.onnx",
            out / f"{heavy}.int8.onnx",
            input_name=heavy_input,
            batches=batches,
            metadata=ExportMetadata(kind=heavy, **base),
        )
        files["int8"] = {**files["fp32"], heavy: f"{heavy}.int8.onnx"}
    record = {
        "run": str(checkpoint.parent),
        "checkpoint_sha256": source,
        "model": loaded.name,
        "frame_model": loaded.is_frame_model,
        "serve": "int8" if int8 else "fp32",
        "files": files,
    }
    # The figures are measured on the files as the runtime will load them.
    write_manifest(out, {**record, "parity": {}})
    parity = {
        precision: _measure(classifier, OnnxClassifier.from_export(out, precision=precision), held_out)
        for precision in files
    }
    parity["torch"] = _torch_speed(classifier, held_out)
    sizes = {
        precision: sum((out / name).stat().st_size for name in set(names.values()))
        for precision, names in files.items()
    }
    return _finish(out, {**record, "parity": parity, "bytes": sizes})


def _finish(out: Path, record: dict[str, Any]) -> dict[str, Any]:
    write_manifest(out, record)
    served = record["parity"][record["serve"]]
    if not served["passes"]:
        log.warning(
            "the %s export of %s agrees with torch on %.1f%% of held-out clips, below the target: "
            "ACTIVITY_RUNTIME=auto keeps torch for it",
            record["serve"],
            record["model"],
            100 * served["top1_agreement"],
        )
    return record
