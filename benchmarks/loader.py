"""Training input pipeline: how many clips/s the loader the trainer builds delivers, per worker process.

Issue 12's GPU target is that data loading never holds back R3D-18 on one H100-class GPU (at least
500 clips/s with AMP). Without a GPU this measures the loader's side of that: the trainer's own
``VideoDataset`` and ``make_loader`` for ``--model`` (frame cache read, a random cached clip,
temporal sampling, random crop and flip, normalisation, batching), iterated with no model, for
each ``--workers`` count; and how many worker processes 500 clips/s would need at the measured
rate per worker. Loader workers are CPU processes: a GPU node's cores, not its GPU, set this.
Items are uint8; the batch is normalised by ``model_input`` where the model runs (its CPU cost,
what training on a CPU pays in the main process, is printed too; on a GPU it is negligible).

    python -m training prepare --source <videos> --data var/bench_loader/prepared --num-frames 16 --size 128
    python -m benchmarks.loader --data var/bench_loader/prepared [--model r3d18] [--workers 0,1,2]
"""

import argparse
import math
import os
import time
from pathlib import Path

import torch

from core.memory import keep_freed_memory
from training.data.dataset import VideoDataset, make_loader
from training.data.frame_cache import FrameCache
from training.fit.trainer import TrainConfig, preprocessing_for

ROOT = Path(__file__).resolve().parents[1]


GPU_TARGET = 500  # clips/s of R3D-18 on one H100-class GPU with AMP (issue 12)


def clips_per_s(dataset: VideoDataset, workers: int, batch_size: int, batches: int) -> float:
    """Clips/s over ``batches`` batches after the first (worker start-up excluded), epochs cycled."""
    loader = make_loader(dataset, batch_size, shuffle=True, num_workers=workers)
    batches_seen, clips, started = 0, 0, None
    while batches_seen <= batches:
        for tensors, _, _ in loader:
            if started is None:
                started = time.perf_counter()  # the first batch pays for starting the workers
            else:
                clips += len(tensors)
            batches_seen += 1
            if batches_seen > batches:
                break
    return clips / (time.perf_counter() - started)


def model_input_ms_per_clip(dataset: VideoDataset, batch_size: int, repeats: int = 10) -> float:
    """CPU milliseconds per clip of turning a uint8 batch into the model's normalised float input."""
    batch = torch.stack([dataset[n][0] for n in range(batch_size)])
    dataset.model_input(batch)
    started = time.perf_counter()
    for _ in range(repeats):
        dataset.model_input(batch)
    return (time.perf_counter() - started) / repeats / batch_size * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a prepared frame cache")
    parser.add_argument("--model", default="r3d18")
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    keep_freed_memory()
    cache = FrameCache(args.data)
    p = preprocessing_for(TrainConfig(model=args.model, data=str(args.data)), cache)
    dataset = VideoDataset.for_model(cache, "train", cache.classes, p, train=True)
    load = os.getloadavg()
    print(
        f"## Training loader, {args.model}: {p.num_frames} frames, {p.crop_size} px crops from {p.decode_size} px, "
        f"batch {args.batch_size}, {len(dataset)} clips ({os.cpu_count()} CPUs, load average {load[0]:.1f})\n"
    )
    print("| worker processes | clips/s | clips/s per process | processes for 500 clips/s |")
    print("|---:|---:|---:|---:|")
    for workers in args.workers:
        rate = clips_per_s(dataset, workers, args.batch_size, args.batches)
        per_process = rate / max(workers, 1)
        print(f"| {workers} | {rate:.0f} | {per_process:.0f} | {math.ceil(GPU_TARGET / per_process)} |", flush=True)
    print(f"\nmodel_input on the CPU: {model_input_ms_per_clip(dataset, args.batch_size):.2f} ms per clip")


if __name__ == "__main__":
    main()
