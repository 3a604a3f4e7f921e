"""A frozen frame model's backbone as a feature source: the features its head reads, for the feature store.

The frames go through exactly the evaluation transform (centre crop to the model's input size,
normalisation), so stored features equal what the model computes on the same frames.
"""

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.data.dataset import clip_to_tensor
from training.data.feature_store import FeatureSource
from training.models.backbone_key import backbone_key
from training.models.frame_classifier import FrameClassifier
from training.models.onnx_model import OnnxModel
from video.model_input import centre_crop
from video.preprocessing import Preprocessing

log = logging.getLogger(__name__)


def shared_feature_key(model: nn.Module, preprocessing: Preprocessing) -> str | None:
    """The ``backbone_key`` of the features a model's head reads, when they can come from elsewhere (the
    feature store, the index encoder): a frozen frame-model backbone fed whole frames (crop = decode
    size). None for every other model. The one rule for training, evaluation and answers."""
    p = preprocessing
    if not (isinstance(model, FrameClassifier) and model.freeze_backbone and p.crop_size == p.decode_size):
        return None
    return backbone_key(model.backbone, p.crop_size, p.mean, p.std)


def onnx_feature_source(path: Path, key: str, preprocessing: Preprocessing) -> FeatureSource | None:
    """The same features computed by an ONNX export of the backbone (``indexing export-encoder``), several
    times faster on a CPU and within cosine 0.99999 of torch's; None when the export computes other features."""
    model = OnnxModel(path)
    if model.metadata.feature_key != key or model.metadata.precision != "fp32":
        log.warning("%s computes other features than this backbone (%s); the feature store uses torch", path, key)
        return None
    crop = preprocessing.crop_size
    log.info("feature store: backbone features by ONNX Runtime (%s)", path)
    return FeatureSource(
        key, model.metadata.feature_dim, lambda frames: model.run(np.ascontiguousarray(centre_crop(frames, crop)))
    )


def model_feature_source(
    model: nn.Module, preprocessing: Preprocessing, onnx_backbone: str | Path | None = None
) -> FeatureSource | None:
    """The model's backbone as a feature source for the store, or None when its features are not shareable.

    ``onnx_backbone``: an ONNX export of the same backbone to compute them with instead of torch.
    """
    key = shared_feature_key(model, preprocessing)
    if key is None:
        return None
    if onnx_backbone is not None and (source := onnx_feature_source(Path(onnx_backbone), key, preprocessing)):
        return source
    p = preprocessing
    # Channels-last weights and inputs let oneDNN use its fast convolution kernels on the CPU (as
    # the index encoders do); the values, and so the features and their key, do not change.
    backbone = model.backbone.eval().to(memory_format=torch.channels_last)
    device = next(backbone.parameters()).device  # the trainer's GPU, when it has one

    def raw_features(frames: np.ndarray) -> np.ndarray:
        images = clip_to_tensor(frames, p.crop_size, p.mean, p.std).transpose(0, 1).to(device)
        with torch.inference_mode():
            return backbone(images.contiguous(memory_format=torch.channels_last)).float().cpu().numpy()

    return FeatureSource(key, model.feature_dim, raw_features)
