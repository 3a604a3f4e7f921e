"""A run folder holding an untrained model's checkpoint: seconds to make, real in every other way.

Exports, runtimes and bundles only need a checkpoint that loads like a trained one, and the data
it names; training it (minutes on a loaded CPU) would test nothing more. The weights are random
but seeded, except a frozen backbone's, which are the shipped ImageNet ones.
"""

from pathlib import Path

import torch

from core.atomic import atomic_write_json
from training.data.frame_cache import FrameCache
from training.models.checkpoint import save_checkpoint
from training.models.registry import build_model, get_spec
from training.runs import ARGS, CHECKPOINT
from video.preprocessing import Preprocessing


def make_untrained_run(
    run_dir: Path, prepared: Path, model: str, *, crop_size: int | None = None, seed: int = 0, **model_kwargs
) -> Path:
    """``run_dir`` with checkpoint.pt and an args.json naming ``prepared`` as its data."""
    cache = FrameCache(prepared)
    size, frames = int(cache.config["size"]), int(cache.config["num_frames"])
    spec = get_spec(model)
    torch.manual_seed(seed)
    kwargs = spec.constructor_kwargs(input_size=crop_size or size, num_frames=frames, **model_kwargs)
    pretrained = "yes" if model_kwargs.get("freeze_backbone") else "no"
    net = build_model(model, len(cache.classes), pretrained=pretrained, **kwargs)
    preprocessing = Preprocessing(
        num_frames=frames,
        decode_size=size,
        crop_size=crop_size or size,
        mean=spec.mean,
        std=spec.std,
    )
    save_checkpoint(
        run_dir / CHECKPOINT, net, name=model, model_kwargs=kwargs, classes=cache.classes, preprocessing=preprocessing
    )
    atomic_write_json(run_dir / ARGS, {"config": {"model": model, "data": str(prepared)}})
    return run_dir
