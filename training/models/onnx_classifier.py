"""A trained classifier answered by ONNX Runtime from its export folder, without torch.

It offers what the answer path asks of ``training.models.inference.Classifier``: probabilities
for uint8 clips, per-frame backbone features and probabilities from them (frozen-backbone
exports, whose backbone and head are separate files), the frames the model reads. The pixels are
chosen by ``video.model_input`` exactly as the torch classifier chooses them, and the files'
records are checked against the manifest and the checkpoint they must come from.
"""

import logging
from pathlib import Path

import numpy as np

from core.errors import ArtifactError, VideoError
from training.models.export_manifest import read_manifest
from training.models.onnx_model import OnnxModel
from video.model_input import centre_crop, fit_frames, frame_rows, model_frames
from video.preprocessing import Preprocessing

log = logging.getLogger(__name__)
CLIP_BATCH = 8


class OnnxClassifier:
    def __init__(self, parts: dict[str, OnnxModel], precision: str, manifest: dict) -> None:
        self.parts = parts
        self.precision = precision
        self.manifest = manifest
        first = parts.get("classifier") or parts["backbone"]
        m = first.metadata
        self.classes = list((parts.get("head") or first).metadata.labels)
        self.name = m.model
        self.preprocessing = Preprocessing(
            num_frames=m.num_frames,
            decode_size=m.decode_size,
            crop_size=m.input_size,
            mean=m.mean,
            std=m.std,
            keep_aspect=m.keep_aspect,
        )
        self.is_frame_model = bool(manifest.get("frame_model", "backbone" in parts))

    @classmethod
    def from_export(
        cls, export_dir: str | Path, *, precision: str | None = None, checkpoint_sha256: str | None = None
    ) -> "OnnxClassifier":
        """Load the export in ``export_dir`` (its manifest's served precision unless ``precision``)."""
        export_dir = Path(export_dir)
        manifest = read_manifest(export_dir)
        if manifest is None:
            raise ArtifactError(f"No ONNX export in {export_dir}; run `python -m training export RUN` first.")
        source = manifest["checkpoint_sha256"]
        if checkpoint_sha256 is not None and source != checkpoint_sha256:
            raise ArtifactError(
                f"The export in {export_dir} is of an older checkpoint (sha256 {source[:16]}); "
                "the run was retrained since. Export it again with `python -m training export RUN`."
            )
        precision = precision or manifest["serve"]
        files = manifest["files"].get(precision)
        if not files:
            raise ArtifactError(f"{export_dir} holds no {precision} export; export with --int8 for int8.")
        parts = {kind: OnnxModel(export_dir / name, kind=kind, source_sha256=source) for kind, name in files.items()}
        return cls(parts, precision, manifest)

    # -- the Classifier interface ---------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.preprocessing.num_frames

    @property
    def frame_size(self) -> int:
        return self.preprocessing.decode_size

    @property
    def feature_key(self) -> str | None:
        """The backbone features the head reads (fp32 exports only: int8 features only approximate them)."""
        if "head" not in self.parts or self.precision != "fp32":
            return None
        return self.parts["backbone"].metadata.feature_key

    def frame_rows(self, length: int) -> np.ndarray:
        return frame_rows(length, self.preprocessing)

    def model_frames(self, clip: np.ndarray) -> np.ndarray:
        return model_frames(clip, self.preprocessing)

    def predict_proba(self, clips: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (N, C) for uint8 clips (N, T, H, W, 3)."""
        clips = np.asarray(clips)
        if clips.ndim != 5 or clips.shape[-1] != 3 or clips.dtype != np.uint8:
            raise VideoError(f"expected uint8 clips shaped (N, T, H, W, 3), got {clips.dtype} {clips.shape}")
        crops = np.stack([self.model_frames(clip) for clip in clips])
        if "classifier" in self.parts:
            return self.parts["classifier"].run_batched(crops, batch_size or CLIP_BATCH).astype(np.float32)
        features = self.parts["backbone"].run_batched(crops.reshape(-1, *crops.shape[2:]), 32)
        return self.predict_proba_from_features(features.reshape(len(crops), crops.shape[1], -1))

    def predict_proba_from_features(self, features: np.ndarray) -> np.ndarray:
        if "head" not in self.parts:
            raise ArtifactError(f"{self.name} does not read shared frame features (its backbone is not frozen).")
        return self.parts["head"].run(np.asarray(features, dtype=np.float32)).astype(np.float32)

    def frame_features(self, frames: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Backbone features (N, D) for uint8 frames (N, H, W, 3); frozen-backbone exports only."""
        if "backbone" not in self.parts:
            raise ArtifactError(f"The ONNX export of {self.name} has no separate backbone (not a frozen frame model).")
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise VideoError(f"expected uint8 frames shaped (N, H, W, 3), got {frames.dtype} {frames.shape}")
        crops = np.ascontiguousarray(centre_crop(fit_frames(frames, self.preprocessing), self.preprocessing.crop_size))
        return self.parts["backbone"].run_batched(crops, batch_size).astype(np.float32)

    def __repr__(self) -> str:
        return f"OnnxClassifier({self.name!r}, {self.precision}, parts={sorted(self.parts)})"
