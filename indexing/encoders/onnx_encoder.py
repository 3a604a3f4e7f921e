"""A frame encoder's backbone exported to ONNX, and the encoder that runs it with ONNX Runtime.

The export is named by the encoder's ``feature_key`` (its weights, input size and normalisation)
under ``<data>/exports/encoders/``, so it is found for exactly the encoder that computes those
features, whatever the index or the feature store calls it. The ONNX encoder reports the torch
encoder's spec: its vectors agree with torch's to cosine 0.99999 (measured at export and
recorded in the file), so an index built by either is searched by either.
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
from indexing.encoders.registry import get_encoder
from training.export.metadata import ExportMetadata
from training.export.onnx_model import OnnxModel
from training.export.parity import MIN_COSINE, mean_cosine
from training.export.runtime_choice import refuse_or_skip
from training.export.to_onnx import FrameGraph, export_graph
from video.decoding import resize_frame

log = logging.getLogger(__name__)


def encoder_export_path(exports_dir: Path, feature_key: str) -> Path:
    return Path(exports_dir) / "encoders" / f"{feature_key}.onnx"


def _frames_per_s(encode, frames: np.ndarray) -> float:
    encode(frames[:2])
    start = time.perf_counter()
    encode(frames)
    return len(frames) / max(time.perf_counter() - start, 1e-9)


def export_encoder(encoder: FrameEncoder, exports_dir: Path, frames: np.ndarray) -> Path:
    """Export ``encoder``'s backbone; ``frames`` (uint8, any size) check it against torch and time both."""
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


class OnnxFrameEncoder(FrameEncoder):
    """The same vectors as the torch encoder it was exported from, computed by ONNX Runtime on the CPU."""

    batch_size = 16

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        m = model.metadata
        spec = m.extra.get("spec", {})
        self.name, self.dim, self.preprocessing = m.model, int(m.feature_dim), spec.get("preprocessing", "")
        self.image_size = m.input_size
        self._feature_key = m.feature_key

    @property
    def feature_key(self) -> str | None:
        return self._feature_key

    @property
    def parity(self) -> dict:
        return dict(self.model.metadata.extra.get("parity", {}))

    def to(self, device: torch.device) -> "OnnxFrameEncoder":
        if torch.device(device).type != "cpu":
            log.warning("the ONNX frame encoder runs on the CPU (asked for %s)", device)
        return self

    def _embed_batch(self, frames: np.ndarray) -> np.ndarray:
        if frames.shape[1:3] != (self.image_size, self.image_size):
            frames = np.stack([resize_frame(frame, self.image_size, False) for frame in frames])
        return self.model.run(np.ascontiguousarray(frames))


def runtime_encoder(encoder: FrameEncoder, settings: Settings) -> FrameEncoder:
    """``encoder``, or its ONNX export when ``settings.runtime`` asks for one (see ``runtime_choice``)."""
    runtime = settings.runtime
    if runtime == "torch" or isinstance(encoder, OnnxFrameEncoder):
        return encoder
    key = encoder.feature_key
    path = encoder_export_path(settings.exports_dir, key) if key else None
    if path is None or not path.is_file():
        refuse_or_skip(
            runtime,
            f"the frame encoder {encoder.name} has no ONNX export; run `python -m indexing export-encoder "
            f"--encoder {encoder.name}`, or use --runtime torch.",
        )
        return encoder
    if encoder.device.type != "cpu":
        refuse_or_skip(runtime, f"the frame encoder runs on {encoder.device}; ONNX Runtime runs on the CPU here.")
        return encoder
    exported = OnnxFrameEncoder(OnnxModel(path, kind="frame_encoder", source_sha256=key))
    parity = exported.parity
    agrees = parity.get("feature_cosine", 0.0) >= MIN_COSINE["fp32"]
    faster = parity.get("frames_per_s", 0.0) > parity.get("torch_frames_per_s", float("inf"))
    if runtime == "auto" and not (agrees and faster):
        log.info(
            "runtime auto -> torch: the ONNX export of %s did not both agree with torch and run faster", encoder.name
        )
        return encoder
    log.info("frame encoder %s runs on ONNX Runtime (%s)", encoder.name, path)
    return exported


def chosen_export(encoder_name: str, settings: Settings) -> Path | None:
    """The ONNX export ``settings.runtime`` would run for encoder ``encoder_name``, or None (torch)."""
    chosen = runtime_encoder(get_encoder(encoder_name), settings)
    return chosen.model.path if isinstance(chosen, OnnxFrameEncoder) else None
