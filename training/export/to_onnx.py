"""Trace torch modules into ONNX files that take uint8 pixels and carry their ``ExportMetadata``.

The normalisation (``/255``, mean, std) is part of each graph, so whoever runs the file feeds it
the uint8 crops the product already has and needs neither torch nor the mean/std by heart; the
record repeats them for people and checks. The legacy TorchScript exporter (``dynamo=False``) is
used: it needs only torch and onnx, and traces these convolutional graphs exactly.
"""

import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import onnx
import torch
from torch import nn

from core.atomic import atomic_write_bytes
from training.models.export_metadata import METADATA_KEY, ExportMetadata

OPSET = 17


class _Normalise(nn.Module):
    def __init__(self, mean: Sequence[float], std: Sequence[float], shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(shape))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(shape))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels.float() / 255.0 - self.mean) / self.std


class ClipGraph(nn.Module):
    """uint8 clips (N, T, S, S, 3) -> class probabilities (N, C): a whole classifier."""

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.model = model
        self.normalise = _Normalise(mean, std, (1, 3, 1, 1, 1))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(self.normalise(clips.permute(0, 4, 1, 2, 3))), dim=1)


class FrameGraph(nn.Module):
    """uint8 frames (N, S, S, 3) -> backbone features (N, D): a frozen backbone or a frame encoder."""

    def __init__(self, backbone: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.backbone = backbone
        self.normalise = _Normalise(mean, std, (1, 3, 1, 1))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalise(frames.permute(0, 3, 1, 2)))


class HeadGraph(nn.Module):
    """Backbone features (N, T, D) -> class probabilities (N, C): the part of a frozen model after the backbone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model.classify_features(features), dim=1)


def with_metadata(model_bytes: bytes, metadata: ExportMetadata) -> bytes:
    """The ONNX model with ``metadata`` set under ``METADATA_KEY`` (replacing an older record)."""
    proto = onnx.load_from_string(model_bytes)
    kept = [prop for prop in proto.metadata_props if prop.key != METADATA_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    proto.metadata_props.add(key=METADATA_KEY, value=metadata.to_json())
    proto.producer_name = "activity-assistant"
    return proto.SerializeToString()


def export_graph(
    graph: nn.Module, example: torch.Tensor, path: str | Path, metadata: ExportMetadata, *, input_name: str
) -> Path:
    """Trace ``graph`` on ``example`` (batch dimension dynamic) and write it with ``metadata``, atomically."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The tracer warns about Python-side shape arithmetic in the zoo's models; the shapes are fixed here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph.eval(),
            (example,),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=[input_name],
            output_names=["output"],
            dynamic_axes={input_name: {0: "batch"}, "output": {0: "batch"}},
        )
    return atomic_write_bytes(path, with_metadata(buffer.getvalue(), metadata))
