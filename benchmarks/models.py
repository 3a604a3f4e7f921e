"""Model zoo figures: parameters, GMACs, inference latency and training throughput per clip.

    python -m benchmarks.models [--frames 16] [--size 112] [--threads 2] [--device cpu|cuda]

Inference is batch 1 (the product classifies one upload at a time); training throughput is a
few Adam steps on random clips. Weights are random (``pretrained='no'``): speed does not depend
on them. Prints one markdown table.
"""

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from training.device import amp_enabled, autocast, pick_device
from training.fit.timing import inference_ms
from training.models.registry import build_model, get_spec, model_names

NUM_CLASSES = 10


def gmacs(model: torch.nn.Module, clip: torch.Tensor) -> float:
    """Multiply-accumulates of one forward pass (FLOPs / 2), counted by torch's dispatcher."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(clip)
    return counter.get_total_flops() / 2 / 1e9


def training_clips_per_s(
    model: torch.nn.Module, shape: tuple[int, ...], device: torch.device, *, batch: int, steps: int
) -> float:
    model.train().to(device)
    amp = amp_enabled(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    clips = torch.randn(batch, *shape, device=device)
    labels = torch.randint(0, NUM_CLASSES, (batch,), device=device)
    elapsed = 0.0
    for step in range(steps + 1):  # the first step warms up and is not timed
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with autocast(device, amp):
            loss = torch.nn.functional.cross_entropy(model(clips), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step:
            elapsed += time.perf_counter() - start
    return batch * steps / elapsed


def variants() -> list[tuple[str, str, dict]]:
    rows = [(name, name, {}) for name in model_names()]
    rows.append(("effnet_frames (frozen backbone)", "effnet_frames", {"freeze_backbone": True}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--train-steps", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = pick_device(args.device)
    shape = (3, args.frames, args.size, args.size)
    where = f"{device.type}" + (f", {args.threads} threads" if device.type == "cpu" else "")
    print(f"{args.frames} frames x {args.size} px per clip; inference batch 1; training batch {args.train_batch}")
    print(f"| model | params (M) | GMACs / clip | inference ms / clip ({where}) | training clips/s ({where}) |")
    print("|---|---|---|---|---|")
    for label, name, extra in variants():
        kwargs = get_spec(name).constructor_kwargs(num_frames=args.frames, input_size=args.size, **extra)
        model = build_model(name, NUM_CLASSES, **kwargs).eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        macs = gmacs(model, torch.randn(1, *shape))
        latency = inference_ms(model, (1, *shape), device)
        throughput = training_clips_per_s(model, shape, device, batch=args.train_batch, steps=args.train_steps)
        print(f"| {label} | {params:.2f} | {macs:.2f} | {latency:.0f} | {throughput:.1f} |", flush=True)


if __name__ == "__main__":
    main()
