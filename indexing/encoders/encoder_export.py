"""Export a frame encoder's backbone to ONNX (full install: torch), and find the export setup would run.

The export is checked against torch on real frames and timed beside it; both figures go into the
file's record, which ``onnx_encoder.runtime_encoder`` reads to decide whether ``auto`` may use it.
"""

import logging
import time
from pathlib import Path

import numpy as np
import torch

from core.errors import ArtifactError
from core.settings import Settings
from indexing.encoders.backbone import BackboneEncoder
from indexing.encoders.base import FrameEncoder
from indexing.encoders.onnx_encoder import OnnxFrameEncoder, encoder_export_path, runtime_encoder
from indexing.encoders.registry import get_encoder
from training.data.frame_cache import FrameCache
from training.export.parity import mean_cosine
from training.models.export_metadata import ExportMetadata
from training.models.onnx_model import OnnxModel

log = logging.getLogger(__name__)
CHECK_CLIPS = 8


def _frames_per_s(encode, frames: np.ndarray) -> float:
    encode(frames[:2])
    start = time.perf_counter()
    encode(frames)
    return len(frames) / max(time.perf_counter() - start, 1e-9)


def check_frames_from(prepared: Path) -> np.ndarray:
    """Frames to check an export on: a few cached clips' frames; a fixed pattern when nothing is prepared yet."""
    if (prepared / "prepare.json").is_file():
        cache = FrameCache(prepared)
        rows = cache.rows()[:: max(1, len(cache.rows()) // CHECK_CLIPS)][:CHECK_CLIPS]
        if rows:
            return np.concatenate([np.asarray(cache.load_frames(row.clip_id)[0]) for row in rows])
    return np.random.default_rng(0).integers(0, 256, (32, 128, 128, 3), dtype=np.uint8)


def export_encoder(encoder: FrameEncoder, exports_dir: Path, frames: np.ndarray) -> Path:
    """Export ``encoder``'s backbone; ``frames`` (uint8, any size) check it against torch and time both."""
    # Imported here: onnx takes half a second to import, and the encoder registry imports this module.
    from training.export.to_onnx import FrameGraph, export_graph

    if not isinstance(encoder, BackboneEncoder) or encoder.feature_key is None:
        raise ArtifactError(
            f"{encoder.name} cannot be exported (only float32 backbone encoders such as effnet_lite0 can)."
        )
    size, key = encoder.image_size, encoder.feature_key
    path = encoder_export_path(exports_dir, key)
    metadata = ExportMetadata(
        kind="frame_encoder",
        model=encoder.name,
        source_sha256=key,
        input_size=size,
        mean=encoder._mean_unit,
        std=encoder._std_unit,
        feature_key=key,
        feature_dim=encoder.dim,
        extra={"spec": encoder.spec},
    )
    backbone = encoder._backbone.to("cpu")
    example = torch.zeros(2, size, size, 3, dtype=torch.uint8)
    export_graph(
        FrameGraph(backbone, encoder._mean_unit, encoder._std_unit), example, path, metadata, input_name="frames"
    )
    exported = OnnxFrameEncoder(OnnxModel(path, kind="frame_encoder"))
    cosine = mean_cosine(encoder.raw_features(frames), exported.raw_features(frames))
    figures = {
        "feature_cosine": cosine,
        "frames_per_s": _frames_per_s(exported.raw_features, frames),
        "torch_frames_per_s": _frames_per_s(encoder.raw_features, frames),
        "check_frames": len(frames),
    }
    final = ExportMetadata(**{**metadata.__dict__, "extra": {**metadata.extra, "parity": figures}})
    export_graph(FrameGraph(backbone, encoder._mean_unit, encoder._std_unit), example, path, final, input_name="frames")
    log.info(
        "exported %s to %s: cosine %.6f to torch, %.0f vs %.0f frames/s",
        encoder.name,
        path,
        cosine,
        figures["frames_per_s"],
        figures["torch_frames_per_s"],
    )
    return path


def ensure_encoder_export(encoder_name: str, settings: Settings) -> None:
    """Export ``encoder_name`` when it has no export yet (about a second for EfficientNet-Lite0, checked
    against torch on the prepared frames). An optional speed-up: under ``auto`` a failure is logged and
    torch goes on; under ``onnx`` it is raised."""
    encoder = get_encoder(encoder_name)
    if encoder.feature_key is None or encoder_export_path(settings.exports_dir, encoder.feature_key).is_file():
        return
    try:
        export_encoder(encoder, settings.exports_dir, check_frames_from(settings.prepared_dir))
    except Exception as error:  # torch.onnx and ONNX Runtime raise their own types; all mean "no export"
        if settings.runtime == "onnx":
            raise
        log.warning("no ONNX export of %s (%s): torch computes its features", encoder_name, error)


def chosen_export(encoder_name: str, settings: Settings) -> Path | None:
    """The ONNX export ``settings.runtime`` would run for encoder ``encoder_name``, or None (torch)."""
    chosen = runtime_encoder(get_encoder(encoder_name), settings)
    return chosen.model.path if isinstance(chosen, OnnxFrameEncoder) else None
