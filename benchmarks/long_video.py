"""Long video: time and peak memory to decode the answer's windows of a 10-minute 720p video.

A long video is cut into overlapping windows (the app's ``ACTIVITY_WINDOW_S`` and ``WINDOW_OVERLAP``)
of 16 frames each, so thousands of frames are kept until the classifier sees them. Each run
decodes in a fresh process and reports its peak resident memory (``VmHWM``), so the
figure is the decoder's alone. The video (H.264, 1280x720, 30 fps) is made once with the
ffmpeg binary of ``imageio-ffmpeg``, or pass your own with ``--video``.

Target: a 10-minute video (the ``ACTIVITY_MAX_DURATION_S`` limit) decodes in well under 1 GB.

    python -m benchmarks.long_video [--video PATH] [--minutes 10] [--size 128]
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg

from core.settings import Settings
from video.decoding import decode_windows

ROOT = Path(__file__).resolve().parents[1]


def make_video(path: Path, minutes: float) -> Path:
    """A moving test pattern, 1280x720 H.264 at 30 fps (about a minute of encoding for ten minutes)."""
    if not path.exists():
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi"]
        command += ["-i", f"testsrc2=size=1280x720:rate=30:duration={minutes * 60}"]
        command += ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p", str(path)]
        subprocess.run(command, check=True)
    return path


def decode_once(video: str, window_s: float, stride_s: float, num_frames: int, size: int) -> None:
    """Child process: decode the windows, print wall time, frames, windows and peak memory as JSON."""
    started = time.perf_counter()
    decoded = decode_windows(video, window_s, stride_s, num_frames, size)
    elapsed = time.perf_counter() - started
    kept = {int(i) for clip in decoded.clips for i in clip.frame_indices}
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent at fork, across exec.
    status = Path("/proc/self/status").read_text()
    peak_mb = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
    print(json.dumps({"seconds": elapsed, "windows": len(decoded.clips), "kept": len(kept), "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="default: a generated 720p video under var/")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=Settings().frame_size)
    parser.add_argument("--child-stride", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = Settings()
    if args.child_stride:
        decode_once(str(args.video), settings.window_s, args.child_stride, settings.num_frames, args.size)
        return
    # Imported here, not in the child: it loads torch, whose memory would swamp the decoder's.
    from assistant.analysis.gather import WINDOW_OVERLAP

    stride = settings.window_s * (1 - WINDOW_OVERLAP)
    video = args.video or make_video(ROOT / "var" / f"long_{args.minutes:g}min_720p.mp4", args.minutes)
    command = [
        sys.executable,
        "-m",
        "benchmarks.long_video",
        "--child-stride",
        str(stride),
        "--video",
        str(video),
        "--size",
        str(args.size),
    ]
    result = json.loads(subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    print(
        f"{video} ({video.stat().st_size / 2**20:.0f} MB), window {settings.window_s:g} s, {settings.num_frames} frames"
    )
    print("| windows | frames kept | decode s | peak memory MB |")
    print("|---:|---:|---:|---:|")
    print(f"| {result['windows']} | {result['kept']} | {result['seconds']:.1f} | {result['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
