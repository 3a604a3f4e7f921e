"""Time from a 10 s 320x240 clip on disk to complete evidence, per step, for two classifiers.

Steps: decode (one pass, overlapping 4 s windows), classify (every window), embed (distinct
query frames, EfficientNet-Lite0 at 224 px: the offline default encoder), search (flat FAISS
index of 10 classes x 100 clips x 8 frames), kb (Chroma passages for the verdict), then the
offline answer. Target (issue 5): p50 of the total under 1.0 s on 2 CPU cores. ``cpu`` is the
process's CPU time per answer: on a machine busy with other work, it is about what the wall
time would be alone with one thread.

``--shared`` (issue 10) measures, in one process and with the runs interleaved so that the load
of a busy machine falls on all of them alike: today's path (index at ``--encoder``, classify +
embed), the two passes with the index at the classifier's 128 px (what ``setup`` now arranges),
and for the frozen effnet_frames the single shared backbone pass (step ``features``); it prints
the p50 of each and the ratio of today's total (and CPU time) to each. On a machine shared with
other work, set ``OMP_WAIT_POLICY=PASSIVE``: by default libgomp's threads spin while they wait,
and on a busy machine that spinning costs several times the model's own CPU time.

Weights: the classifiers are untrained (cnn3d random init; effnet_frames with its ImageNet
backbone and a random head), which costs the same as trained ones; the index holds random unit
vectors, which search exactly like real ones. Timing needs neither to be accurate.

    python -m benchmarks.answer [--repeats 7] [--threads 2] [--shared]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from assistant.analysis.gather import gather_evidence
from assistant.answering.llm.offline import offline_answer
from assistant.runtime.active_checkpoint import set_active_checkpoint
from assistant.runtime.resources import Resources
from core.memory import keep_freed_memory
from core.settings import Settings
from indexing.encoders.registry import get_encoder
from indexing.frames.frame_index import FrameIndex, FrameRecord, FrameSampling
from indexing.frames.index_types import choose_index_type
from testkit.synthetic import motion_frames, write_opencv
from training.models.checkpoint import save_checkpoint
from training.models.registry import build_model, get_spec
from video.preprocessing import Preprocessing

CLASSES = ["Swing", "SkyDiving", "FloorGymnastics", "Diving", "Surfing", "Basketball", "GolfSwing",
           "PlayingPiano", "PlayingGuitar", "HorseRace"]  # fmt: skip
CLIPS_PER_CLASS = 100
FRAMES_PER_CLIP = 8
DECODE_SIZE = 128
NUM_FRAMES = 16
# What training on a 128 px frame cache gives each model: its input size, capped by the cache.
CROPS = {"cnn3d": 112, "effnet_frames": 128}
WEIGHTS = {"cnn3d": "random init", "effnet_frames": "ImageNet backbone, random head"}
STEPS = ("decode", "classify", "embed", "features", "search", "kb", "answer", "total", "cpu")
# The index encoder at the classifier's resolution: its features are the frozen effnet_frames'.
ONE_RESOLUTION_ENCODER = f"effnet_lite0@{DECODE_SIZE}"


def make_clip(folder: Path) -> Path:
    frames = motion_frames("Slide", np.random.default_rng(0), (240, 320), 250)
    return write_opencv(folder / "clip_10s_320x240.avi", frames, fps=25, fourcc="XVID")


def make_checkpoint(model_name: str, path: Path) -> Path:
    spec = get_spec(model_name)
    pretrained = "yes" if model_name == "effnet_frames" else "no"
    # effnet_frames as setup trains it: frozen backbone, head only (crop = decode size).
    kwargs = (
        {"num_frames": NUM_FRAMES, "input_size": CROPS[model_name]}
        if model_name == "cnn3d"
        else {"input_size": CROPS[model_name], "freeze_backbone": True}
    )
    model = build_model(model_name, len(CLASSES), pretrained=pretrained, **kwargs)
    preprocessing = Preprocessing(NUM_FRAMES, DECODE_SIZE, CROPS[model_name], spec.mean, spec.std)
    return save_checkpoint(
        path, model, name=model_name, model_kwargs=kwargs, classes=CLASSES, preprocessing=preprocessing
    )


def make_index(index_dir: Path, encoder_name: str) -> Path:
    """A flat index of random unit vectors with the encoder's spec: searches like a real one."""
    encoder = get_encoder(encoder_name)
    rng = np.random.default_rng(0)
    count = len(CLASSES) * CLIPS_PER_CLASS * FRAMES_PER_CLIP
    vectors = rng.normal(size=(count, encoder.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sampling = FrameSampling(FRAMES_PER_CLIP, DECODE_SIZE, False)
    index = FrameIndex.create(index_dir, encoder, choose_index_type("flat", count), vectors, sampling=sampling)
    records = [
        FrameRecord(f"v_{label}_g{n // 4:02d}_c{n % 4:02d}", label, "train", f"{label}/{n}.avi", float(f))
        for label in CLASSES
        for n in range(CLIPS_PER_CLASS)
        for f in range(FRAMES_PER_CLIP)
    ]
    index.add(vectors, records)
    index.save()
    return index_dir


def run_once(path: Path, resources: Resources, settings: Settings, share_backbone: bool = True) -> dict[str, float]:
    cpu_started = time.process_time()
    evidence = gather_evidence(path, resources, settings, share_backbone=share_backbone)
    started = time.perf_counter()
    "".join(offline_answer("What is happening in this clip?", evidence, evidence.kb_passages, False))
    timings = dict(evidence.timings_ms)
    timings["answer"] = (time.perf_counter() - started) * 1000.0
    timings["total"] = timings.get("total", 0.0) + timings["answer"]
    # CPU seconds of this process: on a busy machine, the wall time it would take alone (1 thread).
    timings["cpu"] = (time.process_time() - cpu_started) * 1000.0
    return timings


def p50s(runs: list[dict[str, float]]) -> dict[str, float]:
    return {step: statistics.median(run.get(step, 0.0) for run in runs) for step in STEPS}


def compare_shared(clip: Path, root: Path, kb_dir: Path, encoder: str, repeats: int) -> None:
    """Today's two passes, two passes at one resolution, and the shared pass, interleaved per repeat."""
    configs: list[tuple[str, Resources, Settings, bool]] = []
    for index_encoder in (encoder, ONE_RESOLUTION_ENCODER):
        settings = Settings(data_dir=root / index_encoder, kb_dir=kb_dir, llm_provider="offline")
        make_index(settings.index_dir, index_encoder)
        for model_name in CROPS:
            checkpoint = make_checkpoint(model_name, settings.runs_dir / model_name / "checkpoint.pt")
            set_active_checkpoint(settings, checkpoint)
            resources = Resources.load(settings)
            configs.append((f"{model_name}, index {index_encoder}, two passes", resources, settings, False))
            if index_encoder == ONE_RESOLUTION_ENCODER and model_name == "effnet_frames":
                configs.append((f"{model_name}, index {index_encoder}, shared backbone", resources, settings, True))
    for _, resources, settings, share in configs:
        run_once(clip, resources, settings, share)  # warm-up: model allocation, file cache
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in configs}
    for _ in range(repeats):
        for name, resources, settings, share in configs:
            runs[name].append(run_once(clip, resources, settings, share))
    print(f"| path | {' | '.join(f'{step} p50 (ms)' for step in STEPS)} | today / this: total | cpu |")
    print(f"|---|{'---|' * (len(STEPS) + 2)}")
    for name, *_ in configs:
        today = p50s(runs[f"{name.split(',')[0]}, index {encoder}, two passes"])
        p50 = p50s(runs[name])
        ratios = f"{today['total'] / p50['total']:.2f}x | {today['cpu'] / p50['cpu']:.2f}x"
        print(f"| {name} | {' | '.join(f'{p50[step]:.0f}' for step in STEPS)} | {ratios} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--encoder", default="effnet_lite0")
    parser.add_argument("--shared", action="store_true", help="compare two passes with the shared backbone pass")
    args = parser.parse_args()
    keep_freed_memory()  # as every product command does (ACTIVITY_KEEP_FREED_MEMORY=0: off)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    kb_dir = Path(__file__).resolve().parents[1] / "kb"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = Settings(data_dir=root / "var", kb_dir=kb_dir, llm_provider="offline")
        clip = make_clip(root)
        if args.shared:
            print(f"clip: 10 s 320x240 XVID AVI; {args.threads} threads; runs interleaved in one process")
            compare_shared(clip, root, kb_dir, args.encoder, args.repeats)
            return
        make_index(settings.index_dir, args.encoder)
        print(f"clip: 10 s 320x240 XVID AVI, windows of {settings.window_s:g} s; index: {args.encoder}, "
              f"{len(CLASSES) * CLIPS_PER_CLASS} clips x {FRAMES_PER_CLIP} frames; {args.threads} threads")  # fmt: skip
        print(f"| checkpoint | {' | '.join(f'{step} p50 (ms)' for step in STEPS)} |")
        print(f"|---|{'---|' * len(STEPS)}")
        for model_name in CROPS:
            checkpoint = make_checkpoint(model_name, settings.runs_dir / model_name / "checkpoint.pt")
            set_active_checkpoint(settings, checkpoint)
            resources = Resources.load(settings)
            run_once(clip, resources, settings)  # warm-up: model allocation, file cache
            runs = [run_once(clip, resources, settings) for _ in range(args.repeats)]
            p50 = p50s(runs)
            label = (
                f"{model_name} ({'ImageNet backbone, random head' if model_name == 'effnet_frames' else 'random init'})"
            )
            print(f"| {label} | {' | '.join(f'{p50[step]:.0f}' for step in STEPS)} |")


if __name__ == "__main__":
    main()
