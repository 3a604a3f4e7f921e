"""Synthetic labelled video clips whose classes differ only by motion.

Every class draws the same kind of object (a bar of random colour, size and angle on a random
noisy background), so a single frame cannot tell the classes apart; only the motion across
frames can. Files are real videos written by OpenCV or by the ffmpeg binary from imageio-ffmpeg.
"""

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

MOTIONS = ("Oscillate", "Fall", "Rotate", "Slide")
# A small palette shared by every class: any clip's background also appears in every other class,
# so colour tells nothing about the class, and an unseen clip always has look-alikes in a library.
BACKGROUNDS = np.array([[40, 40, 40], [200, 200, 200], [30, 90, 160], [160, 60, 40], [60, 150, 70], [190, 170, 60]])


def _bar_frame(background: np.ndarray, centre: tuple[float, float], angle: float, length: float, colour) -> np.ndarray:
    frame = background.copy()
    box = cv2.boxPoints(((centre[0], centre[1]), (length, length / 3), angle))
    cv2.fillPoly(frame, [box.astype(np.int32)], colour)
    return frame


def motion_frames(
    motion: str, rng: np.random.Generator, size: tuple[int, int] = (64, 64), num_frames: int = 24
) -> np.ndarray:
    """(T, H, W, 3) uint8 BGR frames of one object following ``motion``."""
    height, width = size
    base = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    background = np.full((height, width, 3), base, dtype=np.uint8)
    background = np.clip(background + rng.normal(0, 12, background.shape), 0, 255).astype(np.uint8)
    # Every channel differs from the background by 96-160 levels: the bar is always visible.
    colour = tuple(int(c) for c in (base + rng.integers(96, 161, 3)) % 256)
    length = rng.uniform(0.25, 0.4) * min(height, width)
    angle0 = rng.uniform(0, 180)
    cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
    phase = rng.uniform(0, 2 * np.pi)
    frames = []
    for t in np.linspace(0, 1, num_frames):
        x, y, angle = cx, cy, angle0
        if motion == "Oscillate":
            x = cx + 0.25 * width * np.sin(phase + 4 * np.pi * t)
        elif motion == "Fall":
            y = (0.1 + 0.8 * t) * height
        elif motion == "Rotate":
            angle = angle0 + 360 * t
        elif motion == "Slide":
            x = (0.1 + 0.8 * t) * width
        else:
            raise ValueError(f"unknown motion {motion!r}")
        frames.append(_bar_frame(background, (x, y), angle, length, colour))
    return np.stack(frames)


def write_opencv(path: Path, frames_bgr: np.ndarray, fps: float = 12.0, fourcc: str = "MJPG") -> Path:
    height, width = frames_bgr.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
    for frame in frames_bgr:
        writer.write(frame)
    writer.release()
    return path


def write_ffmpeg(
    path: Path, frames_bgr: np.ndarray, fps: float = 12.0, codec_args: Sequence[str] = ("-c:v", "libx264")
) -> Path:
    """Encode raw frames with the ffmpeg binary shipped in imageio-ffmpeg (H.264, VFR, gray...)."""
    height, width = frames_bgr.shape[1:3]
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
        *codec_args, str(path),
    ]  # fmt: skip
    subprocess.run(command, input=frames_bgr.tobytes(), check=True, timeout=120)
    return path


def write_phone_like_vfr(path: Path, codec: Sequence[str] = ("-c:v", "libx264", "-qp", "0")) -> tuple[Path, np.ndarray]:
    """80 frames, frame i grey level 3*i: 60 at 30 fps (0-2 s), then 20 at 5 fps (2-6 s), as a phone
    drops its rate in low light. Returns (path, each frame's true presentation time)."""
    shown = np.array([i / 30 if i < 60 else 2 + (i - 60) / 5 for i in range(80)])
    grey = np.stack([np.full((48, 64, 3), 3 * i, np.uint8) for i in range(80)])
    setpts = "setpts='if(lt(N,60),N/30,2+(N-60)/5)/TB'"
    args = ("-vf", setpts, "-fps_mode", "vfr", *codec, "-pix_fmt", "yuv420p")
    return write_ffmpeg(path, grey, fps=30, codec_args=args), shown


def make_synthetic_dataset(
    root: Path,
    classes: Sequence[str] = MOTIONS,
    per_class: int = 12,
    seed: int = 0,
    size: tuple[int, int] = (64, 64),
    num_frames: int = 24,
    clips_per_group: int = 2,
    writer: Callable[[Path, np.ndarray], Path] = write_opencv,
) -> Path:
    """Folder layout ``<root>/<Label>/v_<Label>_gNN_cMM.avi`` with UCF-style groups."""
    rng = np.random.default_rng(seed)
    for label in classes:
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(per_class):
            group, clip = divmod(number, clips_per_group)
            path = folder / f"v_{label}_g{group + 1:02d}_c{clip + 1:02d}.avi"
            writer(path, motion_frames(label, rng, size, num_frames))
    return root
