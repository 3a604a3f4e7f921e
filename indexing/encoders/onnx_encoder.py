"""The frame encoder that runs a backbone's ONNX export with ONNX Runtime (no torch), and when to use it.

The export is named by the encoder's ``feature_key`` (its weights, input size and normalisation)
under ``<data>/exports/encoders/``, so it is found for exactly the encoder that computes those
features, whatever the index or the feature store calls it. The ONNX encoder reports the torch
encoder's spec: its vectors agree with torch's to cosine 0.99999 (measured at export and
recorded in the file by ``encoder_export``), so an index built by either is searched by either.
"""

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from core.settings import Settings
from indexing.encoders.base import FrameEncoder
from training.export.parity import MIN_COSINE
from training.models.onnx_model import OnnxModel
from training.models.runtime_choice import refuse_or_skip

log = logging.getLogger(__name__)


def encoder_export_path(exports_dir: Path, feature_key: str) -> Path:
    return Path(exports_dir) / "encoders" / f"{feature_key}.onnx"


def on_cpu(device) -> bool:
    """True for "cpu" or ``torch.device("cpu")`` (compared by name: this module does not import torch)."""
    return str(device).split(":")[0] == "cpu"


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

    def to(self, device) -> "OnnxFrameEncoder":
        if not on_cpu(device):
            log.warning("the ONNX frame encoder runs on the CPU (asked for %s)", device)
        return self

    def _embed_batch(self, frames: np.ndarray) -> np.ndarray:
        if frames.shape[1:3] != (self.image_size, self.image_size):
            frames = np.stack([resize_like_torch(frame, self.image_size) for frame in frames])
        return self.model.run(np.ascontiguousarray(frames))


def resize_like_torch(frame: np.ndarray, size: int) -> np.ndarray:
    """The torch encoder's resize (bilinear, antialiased, on uint8), which follows PIL's: pixels within
    2 levels of it up or down (OpenCV's INTER_AREA enlarges like nearest neighbour: cosine 0.87 at 32 -> 64 px)."""
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR))


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
    if not on_cpu(encoder.device):
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
