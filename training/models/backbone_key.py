"""What makes two frame-feature extractors interchangeable: the same weights, input size and normalisation.

A frozen classifier backbone and the index's frame encoder built from the same ImageNet weights
compute the same features for the same frames; so do the cached features in the feature store.
This key names that equivalence: the feature store is stored under it, a classifier trained on
cached features records it, and the answer path runs the backbone once when the classifier's
key equals the encoder's.
"""

import hashlib

import numpy as np
import torch
from torch import nn


def weights_digest(module: nn.Module) -> str:
    """sha256 over the module's parameters and buffers (names, shapes, values), in a stable order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().float().numpy()).tobytes())
    return digest.hexdigest()


def backbone_key(
    backbone: nn.Module, size: int, mean: tuple[float, float, float], std: tuple[float, float, float]
) -> str:
    """Names the features ``backbone`` computes on ``size`` px square frames normalised by ``mean``/``std``."""
    with torch.no_grad():
        weights = weights_digest(backbone)
    norm = ",".join(f"{v:.5f}" for v in (*mean, *std))
    return hashlib.sha256(f"{weights}|{size}|{norm}".encode()).hexdigest()[:16]
