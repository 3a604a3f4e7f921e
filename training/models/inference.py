"""Run a trained checkpoint on decoded clips or video files: the classifier the product uses.

Clips may come at any size and length: they are resampled to the checkpoint's frame count,
resized to its decode size the way the frame cache was built, then centre-cropped and
normalised exactly like evaluation, so predictions match the evaluated numbers.
"""

import functools
from pathlib import Path

import numpy as np
import torch

from core.errors import ArtifactError, VideoError
from training.data.dataset import clip_to_tensor, normalise_batch
from training.models.checkpoint import LoadedClassifier, load_classifier
from training.models.frame_features import shared_feature_key
from training.models.onnx_classifier import OnnxClassifier
from training.models.runtime_choice import onnx_for_checkpoint
from training.runs import checkpoint_path
from video.decoding import VideoLimits, decode_video
from video.model_input import fit_frames, frame_rows, model_frames
from video.preprocessing import Preprocessing

# Clips per forward pass of a 3D model.
CLIP_BATCH = 8


class Classifier:
    """A checkpoint's model; with ``onnx`` (its export), ONNX Runtime computes the probabilities and
    features and torch keeps only what needs the graph itself (saliency)."""

    def __init__(
        self, loaded: LoadedClassifier, device: str | torch.device = "cpu", onnx: OnnxClassifier | None = None
    ):
        self.loaded = loaded
        self.device = torch.device(device)
        self.model = loaded.model.to(self.device).eval()
        self.onnx = onnx

    @property
    def runtime(self) -> str:
        """What computes the answers: ``torch`` or ``onnx fp32`` / ``onnx int8``."""
        return f"onnx {self.onnx.precision}" if self.onnx is not None else "torch"

    def to(self, device: str | torch.device) -> "Classifier":
        """Run on ``device`` from now on."""
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        device: str | torch.device = "cpu",
        expected_classes: list[str] | None = None,
        runtime: str = "torch",
    ) -> "Classifier":
        """Load a checkpoint file (or a run folder holding checkpoint.pt); ``runtime`` as ``ACTIVITY_RUNTIME``."""
        path = checkpoint_path(path)
        loaded = load_classifier(path, expected_classes)
        return cls(loaded, device, onnx_for_checkpoint(path, runtime, str(torch.device(device))))

    @property
    def classes(self) -> list[str]:
        return self.loaded.classes

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def preprocessing(self) -> Preprocessing:
        """How clips become the model's input (frame count, decode and crop size, normalisation)."""
        return self.loaded.preprocessing

    @property
    def num_frames(self) -> int:
        return self.loaded.preprocessing.num_frames

    @property
    def frame_size(self) -> int:
        """The decode size (square side in pixels) clips should be read at."""
        return self.loaded.preprocessing.decode_size

    @property
    def is_frame_model(self) -> bool:
        return self.loaded.is_frame_model

    @functools.cached_property
    def feature_key(self) -> str | None:
        """See ``training.models.frame_features.shared_feature_key`` (an int8 export's features have none)."""
        if self.onnx is not None:
            return self.onnx.feature_key
        return shared_feature_key(self.model, self.loaded.preprocessing)

    def predict_proba_from_features(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C) from per-frame backbone features (N, T, D) with this ``feature_key``."""
        if self.onnx is not None:
            return self.onnx.predict_proba_from_features(features)
        if self.feature_key is None:
            raise ArtifactError(f"{self.name} does not read shared frame features (its backbone is not frozen).")
        with torch.inference_mode():
            features = torch.as_tensor(np.asarray(features), dtype=torch.float32).to(self.device)
            return torch.softmax(self.model.classify_features(features).float(), dim=1).cpu().numpy()

    def frame_rows(self, length: int) -> np.ndarray:
        """Which of a clip's ``length`` frames the model reads, in order (repeats when the clip is short).

        Public so the answer path can compute backbone features of exactly these frames once and
        share them with the frame search (``assistant.analysis.shared_backbone``).
        """
        return frame_rows(length, self.loaded.preprocessing)

    def model_frames(self, clip: np.ndarray) -> np.ndarray:
        """The uint8 frames (num_frames, crop, crop, 3) the model sees for one clip: saliency is drawn on these."""
        return model_frames(clip, self.loaded.preprocessing)

    def clips_to_tensor(self, clips: np.ndarray) -> torch.Tensor:
        """uint8 (N, T, H, W, 3) RGB -> normalised float (N, 3, num_frames, crop, crop)."""
        clips = np.asarray(clips)
        if clips.ndim != 5 or clips.shape[-1] != 3 or clips.dtype != np.uint8:
            raise VideoError(f"expected uint8 clips shaped (N, T, H, W, 3), got {clips.dtype} {clips.shape}")
        p = self.loaded.preprocessing
        return normalise_batch(torch.from_numpy(np.stack([self.model_frames(clip) for clip in clips])), p.mean, p.std)

    def predict_proba(self, clips: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities (N, C) for uint8 clips (N, T, H, W, 3).

        A frame model's backbone sees batch_size x T frames per pass, so by default it takes one
        clip per pass: 3 windows of 16 frames at 128 px cost an EfficientNet-Lite0 about twice the
        CPU time in one 48-frame pass as in three 16-frame passes, whose activations stay in cache
        (measured with one thread, and with two under ``OMP_WAIT_POLICY=PASSIVE``; issue 10).
        """
        if self.onnx is not None:
            return self.onnx.predict_proba(clips)
        if batch_size is None:
            batch_size = 1 if self.is_frame_model else CLIP_BATCH
        batch = self.clips_to_tensor(clips)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(batch), batch_size):
                logits = self.model(batch[start : start + batch_size].to(self.device))
                outputs.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(outputs).numpy()

    def frame_features(self, frames: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Backbone features (N, D) for uint8 frames (N, H, W, 3); frame models only."""
        if not self.is_frame_model:
            raise ArtifactError(f"{self.name} is not a frame model; it has no per-frame features.")
        if self.onnx is not None and "backbone" in self.onnx.parts:
            return self.onnx.frame_features(frames, batch_size)
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise VideoError(f"expected uint8 frames shaped (N, H, W, 3), got {frames.dtype} {frames.shape}")
        p = self.loaded.preprocessing
        # Frames go through the clip transform as one "clip" of length N, so they are treated
        # exactly like the frames the backbone was fine-tuned on.
        tensor = clip_to_tensor(fit_frames(frames, p), p.crop_size, p.mean, p.std).transpose(0, 1)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(tensor), batch_size):
                features = self.model.frame_features(tensor[start : start + batch_size].to(self.device))
                outputs.append(features.float().cpu())
        return torch.cat(outputs).numpy()

    def predict_video(
        self, video_path: str | Path, *, k: int = 5, num_clips: int = 1, limits: VideoLimits | None = None
    ) -> list[tuple[str, float]]:
        """Top-k (label, probability) for a video file, averaging ``num_clips`` equal segments."""
        p = self.loaded.preprocessing
        decoded = decode_video(
            video_path,
            p.num_frames,
            p.decode_size,
            num_clips=num_clips,
            keep_aspect=p.keep_aspect,
            limits=limits,
        )
        probs = self.predict_proba(np.stack([clip.frames for clip in decoded.clips])).mean(axis=0)
        return top_k(probs, self.classes, k)


def top_k(probs: np.ndarray, classes: list[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]


def predict(checkpoint: str | Path, video_path: str | Path, k: int = 5, num_clips: int = 1) -> list[tuple[str, float]]:
    """Top-k labels with probabilities for one video file."""
    return Classifier.from_checkpoint(checkpoint).predict_video(video_path, k=k, num_clips=num_clips)
