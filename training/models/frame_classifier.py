"""A clip classifier built from any 2D image backbone applied to every frame.

Frame features are pooled over time and a linear head classifies the pooled vector (for a
linear head that equals averaging per-frame logits). An optional small temporal layer (a
1D convolution over time) gives the model some sense of frame order. ``frame_features`` is
public so the fine-tuned backbone can serve as the frame encoder of the retrieval index.
"""

from typing import Literal

import torch
from torch import nn

Temporal = Literal["mean", "conv"]
TEMPORAL_MODES: tuple[str, ...] = ("mean", "conv")


class FrameClassifier(nn.Module):
    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        num_classes: int,
        *,
        temporal: Temporal = "mean",
        temporal_dim: int = 256,
        dropout: float = 0.2,
        freeze_backbone: bool = False,
    ) -> None:
        super().__init__()
        if temporal not in TEMPORAL_MODES:
            raise ValueError(f"temporal must be one of {TEMPORAL_MODES}, got {temporal!r}")
        self.backbone = backbone
        self.feature_dim = feature_dim
        self.freeze_backbone = freeze_backbone
        self.temporal: nn.Module | None = None
        head_dim = feature_dim
        if temporal == "conv":
            self.temporal = nn.Sequential(
                nn.Conv1d(feature_dim, temporal_dim, kernel_size=3, padding=1), nn.ReLU(inplace=True)
            )
            head_dim = temporal_dim
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(head_dim, num_classes)
        if freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> "FrameClassifier":
        # A frozen backbone keeps its ImageNet batch-norm statistics and skips drop-connect.
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised frames -> (N, D) pooled backbone features.

        A frozen backbone skips its graph only while training: in eval mode Grad-CAM
        (training.models.saliency) needs gradients to reach the backbone's last block.
        """
        if self.freeze_backbone and self.training:
            with torch.no_grad():
                return self.backbone(frames)
        return self.backbone(frames)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch, channels, steps, height, width = clips.shape
        frames = clips.transpose(1, 2).reshape(batch * steps, channels, height, width).contiguous()
        return self.classify_features(self.frame_features(frames).reshape(batch, steps, -1))

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, D) per-frame backbone features -> (B, classes) logits: the part of ``forward`` after
        the backbone, which a frozen backbone lets the feature store and the answer path share."""
        if self.temporal is not None:
            features = self.temporal(features.transpose(1, 2)).transpose(1, 2)
        return self.head(self.dropout(features.mean(dim=1)))


class HeadOnly(nn.Module):
    """A frame classifier fed per-frame backbone features (B, T, D) instead of frames: what training
    and evaluation from the feature store run. Its parameters are the classifier's own."""

    def __init__(self, model: FrameClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.classify_features(features)
