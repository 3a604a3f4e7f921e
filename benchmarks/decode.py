"""Decode speed: ms per clip for sampling 16 frames, our sequential reader vs a seek-per-frame loop.

Targets (issue 2): <= 15 ms per UCF-like clip (320x240 MPEG-4 AVI, ~7 s) on 2 cores, and at
least 5x faster than the seek loop on 1080p H.264.

    python -m benchmarks.decode [--repeats 5]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from testkit.synthetic import motion_frames, write_ffmpeg, write_opencv
from video.decoding import decode_video, resize_frame
from video.frame_plan import sample_indices


def seek_loop(path: Path, num_frames: int, size: int) -> np.ndarray:
    """The naive reader people write first: trust the frame count, seek to each sampled frame."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for index in sample_indices(0, total, num_frames):
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = capture.read()
        if ok:
            frames.append(resize_frame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), size, False))
    capture.release()
    return np.stack(frames)


def timed_ms(function, repeats: int) -> float:
    function()  # warm-up: file cache, codec initialisation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def make_videos(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    ucf = write_opencv(folder / "ucf_like.avi", motion_frames("Slide", rng, (240, 320), 175), fps=25, fourcc="XVID")
    hd = write_ffmpeg(
        folder / "hd.mp4", motion_frames("Rotate", rng, (1080, 1920), 175), fps=25,
        codec_args=("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"),
    )  # fmt: skip
    return {"320x240 MPEG-4 AVI, 7 s": ucf, "1920x1080 H.264 MP4, 7 s": hd}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cv2.setNumThreads(2)
    with tempfile.TemporaryDirectory() as folder:
        videos = make_videos(Path(folder))
        print("| video | ours: sequential (ms/clip) | naive seek loop (ms/clip) | speed-up |")
        print("|---|---|---|---|")
        for name, path in videos.items():
            ours = timed_ms(lambda p=path: decode_video(p, 16, 128), args.repeats)
            naive = timed_ms(lambda p=path: seek_loop(p, 16, 128), args.repeats)
            print(f"| {name} | {ours:.1f} | {naive:.1f} | {naive / ours:.1f}x |")


if __name__ == "__main__":
    main()
