"""ONNX Runtime against torch, in one process: parity, frame features/s, answer p50, int8 size (issue 22).

Targets: fp32 features cosine >= 0.999 and top-1 agreement >= 99 % on the synthetic test split
and on ``../shared/real-clips``; int8 top-1 agreement >= 97 %; frame features >= 3x torch's
frames/s; ``benchmarks/answer.py``'s answer p50 >= 2x faster with ONNX; int8 <= 30 % of fp32.

The model is the one ``setup`` trains: effnet_frames with its frozen ImageNet backbone at 128 px.
Without ``--run`` its head is random (the backbone is the shipped ImageNet one): a random head
makes close calls everywhere, so top-1 agreement is a harder test than with a trained head. With
``--run RUN`` (a trained frozen effnet_frames run, e.g. from ``python -m assistant setup``) that
run is exported and compared instead; ``--train-epochs N`` trains the head on the synthetic set
first. The int8 export is calibrated on cached synthetic frames (or the run's own data).

Every speed is a ratio measured in this one process with the paths interleaved, so a load from
other work falls on all of them alike; the 1-minute load average is printed with them. Torch's
frame features are the index encoder's path (channels-last, the fastest torch path here).

    python -m benchmarks.runtime [--run RUN] [--clips ../shared/real-clips] [--threads 2] [--repeats 5]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from assistant.runtime.active_checkpoint import set_active_checkpoint
from assistant.runtime.resources import Resources
from benchmarks.answer import make_clip, make_index, p50s, run_once
from core.memory import keep_freed_memory
from core.settings import Settings
from indexing.encoders.encoder_export import export_encoder
from indexing.encoders.onnx_encoder import runtime_encoder
from indexing.encoders.registry import get_encoder
from testkit.synthetic import make_synthetic_dataset
from testkit.untrained_run import make_untrained_run
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source
from training.data.sources.types import VIDEO_SUFFIXES
from training.export.parity import mean_cosine, top1_agreement
from training.export.run_export import cached_clips, export_run, run_cache
from training.fit.trainer import TrainConfig, train
from training.models.inference import Classifier
from training.models.onnx_classifier import OnnxClassifier
from video.decoding import decode_video

DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "real-clips"
SIZE, FRAMES = 128, 16


def synthetic_run(root: Path, epochs: int) -> Path:
    videos = make_synthetic_dataset(root / "videos", per_class=25, seed=0, size=(160, 160))
    prepared = root / "prepared"
    config = PrepareConfig(num_frames=FRAMES, size=SIZE, num_clips=1)
    prepare_dataset(load_source(videos, "folder", seed=0), prepared, config, workers=1)
    if epochs == 0:
        return make_untrained_run(root / "run", prepared, "effnet_frames", freeze_backbone=True)
    config = TrainConfig(
        model="effnet_frames", data=str(prepared), epochs=epochs, pretrained="yes", freeze_backbone=True, patience=0
    )
    train(config, root / "run")
    return root / "run"


def real_clips(folder: Path, classifier: Classifier) -> np.ndarray:
    """Three windows of every real clip, decoded as the classifier reads them."""
    p = classifier.loaded.preprocessing
    paths = sorted(path for path in folder.rglob("*") if path.suffix.lower() in VIDEO_SUFFIXES)
    clips = [
        clip.frames for path in paths for clip in decode_video(path, p.num_frames, p.decode_size, num_clips=3).clips
    ]
    return np.stack(clips)


def parity_rows(name: str, clips: np.ndarray, torch_model: Classifier, exports: dict[str, OnnxClassifier]) -> None:
    reference = torch_model.predict_proba(clips)
    frames = clips.reshape(-1, *clips.shape[2:])
    features = torch_model.frame_features(frames)
    for precision, exported in exports.items():
        agreement = top1_agreement(reference, exported.predict_proba(clips))
        cosine = mean_cosine(features, exported.frame_features(frames))
        print(f"| {name} | {precision} | {len(clips)} | {cosine:.6f} | {100 * agreement:.1f} % |")


def frames_per_s(paths: dict, frames: np.ndarray, repeats: int) -> dict[str, float]:
    """Median frames/s of each path, the paths interleaved per repeat."""
    for run in paths.values():
        run(frames[:16])  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeats):
        for name, run in paths.items():
            start = time.perf_counter()
            run(frames)
            seconds[name].append(time.perf_counter() - start)
    return {name: len(frames) / statistics.median(values) for name, values in seconds.items()}


def answer_p50(settings: Settings, exports: dict[str, OnnxClassifier], repeats: int) -> dict[str, dict[str, float]]:
    """benchmarks/answer.py's clip and index answered by torch, ONNX fp32 and ONNX int8, interleaved."""
    make_index(settings.index_dir, f"effnet_lite0@{SIZE}")
    clip = make_clip(settings.data_dir)
    by_torch = Resources.load(settings.model_copy(update={"runtime": "torch"}))
    by_onnx = Resources.load(settings.model_copy(update={"runtime": "onnx"}))
    loaded = by_onnx.classifier.loaded
    configs = {
        "torch": by_torch,
        "onnx fp32": replace(by_onnx, classifier=Classifier(loaded, onnx=exports["fp32"])),
        "onnx int8 (two passes: int8 features are not the index's)": replace(
            by_onnx, classifier=Classifier(loaded, onnx=exports["int8"])
        ),
    }
    for resources in configs.values():
        run_once(clip, resources, settings)  # warm-up
    runs: dict[str, list] = {name: [] for name in configs}
    for _ in range(repeats):
        for name, resources in configs.items():
            runs[name].append(run_once(clip, resources, settings))
    return {name: p50s(values) for name, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a trained frozen effnet_frames run (default: a random head)")
    parser.add_argument(
        "--train-epochs", type=int, default=0, help="without --run: train the head on the synthetic set"
    )
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    keep_freed_memory()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    kb_dir = Path(__file__).resolve().parents[1] / "kb"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = args.run or synthetic_run(root / "synthetic", args.train_epochs)
        settings = Settings(data_dir=root / "var", kb_dir=kb_dir, llm_provider="offline")
        run = settings.runs_dir / "effnet_frames"  # a copy: the export goes beside it, not into --run
        run.mkdir(parents=True)
        shutil.copy(Path(source) / "checkpoint.pt", run / "checkpoint.pt")
        cache = run_cache(Path(source), None)
        set_active_checkpoint(settings, run / "checkpoint.pt")
        manifest = export_run(run, int8=True, data=cache.root)
        torch_model = Classifier.from_checkpoint(run)
        exports = {p: OnnxClassifier.from_export(run / "export", precision=p) for p in ("fp32", "int8")}
        head = (
            f"head trained {args.train_epochs} epochs on the synthetic motions" if args.train_epochs else "random head"
        )
        weights = f"run {source}" if args.run else f"ImageNet backbone, {head}"
        print(
            f"model: {torch_model.name} at {torch_model.frame_size} px ({weights}); {args.threads} torch threads, "
            f"ONNX Runtime's default threads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        print("\n| clips | precision | clips compared | feature cosine | top-1 agreement |\n|---|---|---|---|---|")
        parity_rows("synthetic test split", cached_clips(cache, ("test", "val"), 64), torch_model, exports)
        real = real_clips(args.clips, torch_model) if args.clips.is_dir() else None
        if real is not None:
            parity_rows(f"real clips ({args.clips.name}, 3 windows each)", real, torch_model, exports)
        pool = real if real is not None else cached_clips(cache, ("train",), 8)
        frames = pool.reshape(-1, SIZE, SIZE, 3)[:128]
        torch_encoder = get_encoder(f"effnet_lite0@{SIZE}")
        export_encoder(torch_encoder, settings.exports_dir, frames[:32])
        onnx_encoder = runtime_encoder(torch_encoder, settings.model_copy(update={"runtime": "onnx"}))
        paths = {
            "torch (index encoder path)": torch_encoder.raw_features,
            "onnx fp32": onnx_encoder.raw_features,
            "onnx int8": exports["int8"].frame_features,
        }
        speed = frames_per_s(paths, frames, args.repeats)
        base = speed["torch (index encoder path)"]
        print(
            f"\nframe features, {len(frames)} frames of {SIZE} px, median of {args.repeats} interleaved passes "
            f"(load average {os.getloadavg()[0]:.1f}):\n| path | frames/s | vs torch |\n|---|---|---|"
        )
        for name, value in speed.items():
            print(f"| {name} | {value:.0f} | {value / base:.2f}x |")
        sizes = manifest["bytes"]
        print(
            f"\nsize: fp32 {sizes['fp32'] / 1e6:.1f} MB, int8 {sizes['int8'] / 1e6:.1f} MB "
            f"({100 * sizes['int8'] / sizes['fp32']:.0f} % of fp32; backbone + head)"
        )
        p50 = answer_p50(settings, exports, args.repeats)
        print(
            f"\nanswer (benchmarks/answer.py's clip and index), p50 of {args.repeats} interleaved runs "
            f"(load average {os.getloadavg()[0]:.1f}):\n"
            "| runtime | features | classify | embed | total | cpu | torch / this |\n|---|---|---|---|---|---|---|"
        )
        for name, v in p50.items():
            ratio = p50["torch"]["total"] / v["total"]
            print(
                f"| {name} | {v['features']:.0f} | {v['classify']:.0f} | {v['embed']:.0f} | {v['total']:.0f} | "
                f"{v['cpu']:.0f} | {ratio:.2f}x |"
            )


if __name__ == "__main__":
    main()
