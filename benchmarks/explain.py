"""Time to explain one clip per model: Grad-CAM (forward + backward to the last block) on 2 cores.

    python -m benchmarks.explain [--frames 16] [--threads 2] [--repeats 3]

Each model gets its own input size (112 px for the 3D models, 224 px for the frame models) and
explains one clip through the product's path (``training.models.saliency.explain_clips``: the same
preprocessing as answers, heat maps at input size). Weights are random: speed does not depend
on them. Prints one markdown table with the median of ``--repeats`` runs after one warm-up,
next to a plain inference pass (``predict_proba``) timed the same way, and the machine's load:
on a shared machine other processes slow every figure down, while the ratio of the two
columns (what explaining costs over answering) stays meaningful.
Target: under 2 s for cnn3d and effnet_frames.
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from training.models.checkpoint import LoadedClassifier
from training.models.inference import Classifier
from training.models.registry import build_model, get_spec, model_names
from training.models.saliency import explain_clips
from video.preprocessing import Preprocessing

NUM_CLASSES = 10
TARGET_S = {"cnn3d": 2.0, "effnet_frames": 2.0}


def classifier_for(name: str, frames: int) -> Classifier:
    spec = get_spec(name)
    model = build_model(name, NUM_CLASSES, pretrained="no")
    preprocessing = Preprocessing(
        num_frames=frames, decode_size=spec.input_size, crop_size=spec.input_size, mean=spec.mean, std=spec.std
    )
    classes = [f"class{i}" for i in range(NUM_CLASSES)]
    return Classifier(LoadedClassifier(model, name, {}, classes, preprocessing))


def seconds(run: Callable[[], object], repeats: int) -> list[float]:
    run()  # warm-up: allocator, kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def row(name: str, frames: int, repeats: int, rng: np.random.Generator) -> str:
    """One table row: explaining vs answering (a plain inference pass) on the same clip."""
    size = get_spec(name).input_size
    clip = rng.integers(0, 256, (1, frames, size, size, 3), dtype=np.uint8)
    classifier = classifier_for(name, frames)
    runs = seconds(lambda: explain_clips(classifier, clip, classifier.classes[0]), repeats)
    explain = statistics.median(runs)
    inference = statistics.median(seconds(lambda: classifier.predict_proba(clip), repeats))
    target = f"< {TARGET_S[name]:.0f} s" if name in TARGET_S else "-"
    listed = ", ".join(f"{t:.2f}" for t in runs)
    ratio = explain / inference
    return f"| {name} | {frames}x{size}px | {explain:.2f} ({listed}) | {inference:.2f} | {ratio:.1f}x | {target} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(model_names()), choices=model_names())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"| model | input | explain one {args.frames}-frame clip, median s (runs) | inference s | ratio | target |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        print(row(name, args.frames, args.repeats, rng), flush=True)
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
