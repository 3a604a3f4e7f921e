"""Inference latency of a model on one clip, measured the same way for every report."""

import time

import torch
from torch import nn


def inference_ms(
    model: nn.Module, clip_shape: tuple[int, ...], device: torch.device, *, repeats: int = 3, warmup: int = 1
) -> float:
    """Median milliseconds for one forward pass on a random batch of shape ``clip_shape``."""
    model = model.eval().to(device)
    clip = torch.randn(clip_shape, device=device)
    times = []
    with torch.inference_mode():
        for n in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(clip)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if n >= warmup:
                times.append((time.perf_counter() - start) * 1000.0)
    return float(sorted(times)[len(times) // 2])
