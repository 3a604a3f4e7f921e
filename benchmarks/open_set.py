"""What the open-set support costs: the pooled library and its floor per snapshot, the support per answer.

A synthetic index of ``--clips`` clips of ``--activities`` activities (8 frames of 1280-d unit vectors,
EfficientNet-Lite0's size; 5 clips per recording) is pooled per frame, over ``SEGMENTS`` temporal
segments (before) and over the segments and the changes between them (shipped), in one process, side by side.

    python -m benchmarks.open_set [--clips 1000] [--activities 10]
"""

import argparse
import tempfile
import time

import numpy as np

from assistant.runtime.open_set import calibrate_open_set
from assistant.runtime.segment_support import (
    SEGMENTS,
    SegmentLibrary,
    in_one_space,
    segment_means,
    segments_and_changes,
)
from indexing.encoders.base import l2_normalise
from indexing.frames.frame_index import FrameIndex, FrameRecord, FrameSampling
from indexing.frames.index_types import choose_index_type

DIM = 1280
FRAMES = 8


class _VectorsEncoder:
    dim = DIM
    spec = {"name": "synthetic", "dim": DIM}


def synthetic_index(clips: int, activities: int) -> FrameIndex:
    rng = np.random.default_rng(0)
    index = FrameIndex.create(
        tempfile.mkdtemp(), _VectorsEncoder(), choose_index_type("flat", 0), np.zeros((0, DIM)),
        sampling=FrameSampling(FRAMES, 224),
    )  # fmt: skip
    for clip in range(clips):
        label = f"Activity{clip % activities}"
        path = f"/videos/{label}/v_{label}_g{clip // 5:02d}_c{clip % 5:02d}.avi"
        records = [FrameRecord(f"clip{clip}", label, "train", path, float(t)) for t in range(FRAMES)]
        index.add(l2_normalise(rng.normal(size=(FRAMES, DIM))).astype(np.float32), records)
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--activities", type=int, default=10)
    args = parser.parse_args()
    index = synthetic_index(args.clips, args.activities)
    query = l2_normalise(np.random.default_rng(1).normal(size=(FRAMES, DIM))).astype(np.float32)
    poolings = {
        "per frame": (None, in_one_space(segment_means)),
        f"{SEGMENTS} segments (before)": (SEGMENTS, in_one_space(segment_means)),
        f"{SEGMENTS} segments + their changes (shipped)": (SEGMENTS, segments_and_changes),
    }
    for name, (segments, pool) in poolings.items():
        start = time.perf_counter()
        library = SegmentLibrary.of(index, segments, pool)
        pooled = time.perf_counter()
        calibrate_open_set(index, library)
        floored = time.perf_counter()
        times = []
        for _ in range(50):
            begin = time.perf_counter()
            library.support(query)
            times.append(time.perf_counter() - begin)
        print(
            f"{name}: library {pooled - start:.3f} s, floor {floored - pooled:.3f} s, "
            f"support per answer p50 {np.median(times) * 1000:.2f} ms "
            f"({args.clips} clips, {args.activities} activities)"
        )


if __name__ == "__main__":
    main()
