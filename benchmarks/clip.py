"""CLIP ViT-B-32 on the CPU: image-embedding throughput, the text cache, and what zero-shot adds to an answer.

Weights: random (``clip:ViT-B-32:random``). Pretrained OpenCLIP weights cannot be downloaded
here; random weights run exactly the same operations, so every timing holds for the real
model, while the scores themselves mean nothing.

Figures: frames/s of the image tower (frames at the 128 px of the frame cache, resized to 224)
at several batch sizes, next to EfficientNet-Lite0 (the offline default frame encoder); the
text-embedding build for the activities in ``kb/`` (cold: every prompt through the text
tower; warm: read back from the disk cache); and the zero-shot step of one answer about the
10 s clip of ``benchmarks/answer.py``, decoded into the same overlapping 4 s windows.

    python -m benchmarks.clip [--threads 2] [--repeats 5]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from assistant.analysis.gather import WINDOW_OVERLAP
from assistant.zeroshot.scorer import MAX_FRAMES, ZeroShotScorer, activity_names, prompts_for
from benchmarks.answer import make_clip
from core.settings import Settings
from indexing.encoders.openclip_model import ClipSpec
from indexing.encoders.registry import get_encoder
from testkit.clip_kb import kb_entries
from video.decoding import decode_windows

SPEC = ClipSpec("ViT-B-32", "random")
BATCHES = (1, 8, 32)
KB_DIR = Path(__file__).resolve().parents[1] / "kb"


def median_ms(action, repeats: int) -> float:
    action()  # warm-up: allocation, oneDNN kernel choice
    return statistics.median(timed_ms(action) for _ in range(repeats))


def throughput(encoder, batch: int, repeats: int) -> float:
    frames = np.random.default_rng(0).integers(0, 256, (batch, 128, 128, 3), dtype=np.uint8)
    encoder.batch_size = batch
    return batch / median_ms(lambda: encoder.encode(frames), repeats) * 1000.0


def timed_ms(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(f"CLIP {SPEC.model} with RANDOM weights (pretrained weights are not downloadable here; same cost); "
          f"{args.threads} threads, median of {args.repeats}")  # fmt: skip

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        scorer = ZeroShotScorer.load(SPEC, root / "var")
        effnet = get_encoder("effnet_lite0")
        print("\n| encoder | input | " + " | ".join(f"batch {b} (frames/s)" for b in BATCHES) + " |")
        print("|---|---|" + "---|" * len(BATCHES))
        for name, encoder in ((scorer.name, scorer.encoder), (effnet.name, effnet)):
            rates = [throughput(encoder, batch, args.repeats) for batch in BATCHES]
            print(f"| {name} | {encoder.image_size} px | " + " | ".join(f"{rate:.1f}" for rate in rates) + " |")
        scorer.encoder.batch_size = 8

        entries = kb_entries(KB_DIR)
        prompts = sum(len(prompts_for(activity_names(entry))) for entry in entries.values())
        cold = timed_ms(lambda: scorer.text_vectors(entries))
        warm = timed_ms(lambda: ZeroShotScorer(scorer.encoder, scorer.cache.root).text_vectors(entries))
        print(f"\ntext embeddings of {len(entries)} KB activities ({prompts} prompts): cold {cold:.0f} ms "
              f"(text tower), warm {warm:.1f} ms (disk cache, as in a new process)")  # fmt: skip

        settings = Settings()
        stride = settings.window_s * (1 - WINDOW_OVERLAP)
        windows = decode_windows(make_clip(root), settings.window_s, stride, settings.num_frames, 128).clips
        per_answer = median_ms(lambda: scorer.score_windows(windows, entries), args.repeats)
        print(f"zero-shot step of one answer (the 10 s clip in {len(windows)} windows of {settings.window_s:g} s, "
              f"{MAX_FRAMES} frames spread over them; text vectors cached): {per_answer:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
