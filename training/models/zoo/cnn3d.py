"""The custom 3D CNN of the brief: four Conv3d blocks, then two fully connected layers.

Input (B, 3, T, S, S). The first pool keeps time (1, 2, 2), the next three halve time and
space, so the flattened size is 256 x T/8 x S/16 (256 x 2 x 7 x 7 for 16 frames of 112 px).
T and S are parameters so tests can use tiny clips.
"""

import torch
from torch import nn

from training.models.registry import KINETICS_MEAN, KINETICS_STD, register_model

CHANNELS = (32, 64, 128, 256)
POOLS = ((1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))


def _block(in_channels: int, out_channels: int, pool: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm3d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool3d(pool),
    )


def flatten_size(num_frames: int, input_size: int) -> int:
    """Features entering the first FC layer for clips of ``num_frames`` x ``input_size``^2."""
    steps, side = num_frames, input_size
    for pool_t, pool_s, _ in POOLS:
        steps, side = steps // pool_t, side // pool_s
    if steps < 1 or side < 1:
        raise ValueError(f"cnn3d needs at least 8 frames and 16 px (got {num_frames} frames of {input_size} px)")
    return CHANNELS[-1] * steps * side * side


class Cnn3d(nn.Module):
    def __init__(
        self,
        num_classes: int,
        *,
        num_frames: int = 16,
        input_size: int = 112,
        hidden: int = 512,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        blocks, in_channels = [], 3
        for out_channels, pool in zip(CHANNELS, POOLS, strict=True):
            blocks.append(_block(in_channels, out_channels, pool))
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flatten_size(num_frames, input_size), hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(clips))


@register_model(
    name="cnn3d",
    input_size=112,
    mean=KINETICS_MEAN,
    std=KINETICS_STD,
    frame_model=False,
    description="custom 3D CNN (4 conv blocks + 2 FC), trained from scratch",
    saliency_layer="features.3.2",
)
def build_cnn3d(
    num_classes: int,
    *,
    num_frames: int = 16,
    input_size: int = 112,
    hidden: int = 512,
    dropout: float = 0.5,
) -> nn.Module:
    return Cnn3d(num_classes, num_frames=num_frames, input_size=input_size, hidden=hidden, dropout=dropout)
