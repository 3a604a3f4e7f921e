"""A small video set whose classes differ by what is seen (colour and shape), not by motion.

Frame retrieval can only separate classes that single frames tell apart; the motion set of
``testkit.synthetic`` is built so that they cannot. Here every class is one shape in one colour,
drawn at a random place and size over a random grey, noisy background that drifts slowly.
The videos are real MJPEG files, prepared with the product's own ``prepare`` pipeline.
"""

from pathlib import Path

import cv2
import numpy as np

from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from testkit.synthetic import write_opencv
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source

# label -> (BGR colour, shape)
SHAPES = {
    "RedDisc": ((40, 40, 220), "disc"),
    "GreenSquare": ((60, 200, 60), "square"),
    "BlueTriangle": ((220, 90, 30), "triangle"),
    "YellowBar": ((30, 220, 230), "bar"),
}
# A small input size keeps the real EfficientNet-Lite0 fast enough for tests.
TEST_ENCODER = "effnet_lite0@96"


def shape_frames(label: str, rng: np.random.Generator, size: int = 64, num_frames: int = 12) -> np.ndarray:
    colour, shape = SHAPES[label]
    grey = int(rng.integers(60, 190))
    background = np.clip(rng.normal(grey, 14, (size, size, 3)), 0, 255).astype(np.uint8)
    radius = rng.uniform(0.16, 0.26) * size
    cx, cy = rng.uniform(0.35, 0.65, 2) * size
    dx, dy = rng.uniform(-0.15, 0.15, 2) * size
    frames = []
    for t in np.linspace(0, 1, num_frames):
        frame = background.copy()
        x, y, r = cx + dx * t, cy + dy * t, radius
        if shape == "disc":
            cv2.circle(frame, (int(x), int(y)), int(r), colour, -1)
        elif shape == "square":
            cv2.rectangle(frame, (int(x - r), int(y - r)), (int(x + r), int(y + r)), colour, -1)
        elif shape == "triangle":
            points = np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], dtype=np.int32)
            cv2.fillPoly(frame, [points], colour)
        else:
            cv2.rectangle(frame, (int(x - 1.4 * r), int(y - r / 3)), (int(x + 1.4 * r), int(y + r / 3)), colour, -1)
        frames.append(frame)
    return np.stack(frames)


def make_shapes_dataset(root: Path, per_class: int = 10, seed: int = 0) -> Path:
    """Folder layout ``<root>/<Label>/v_<Label>_gNN_cMM.avi``, two clips per group."""
    rng = np.random.default_rng(seed)
    for label in SHAPES:
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(per_class):
            group, clip = divmod(number, 2)
            write_opencv(folder / f"v_{label}_g{group + 1:02d}_c{clip + 1:02d}.avi", shape_frames(label, rng))
    return root


def prepared_shapes(base: Path) -> Path:
    """The shapes set prepared (4 frames x 2 clips, 64 px; 60/40 train/test by group); made once."""
    prepared = base / "prepared"
    if not (prepared / "manifest.csv").is_file():
        source = make_shapes_dataset(base / "videos")
        clips = load_source(source, "folder", val_fraction=0.0, test_fraction=0.4, seed=0)
        prepare_dataset(clips, prepared, PrepareConfig(num_frames=4, size=64, num_clips=2), workers=1)
    return prepared


def shapes_index(base: Path) -> Path:
    """A flat frame index of the shapes set's training clips (4 frames per clip); built once.

    Tests that change an index work on a copy of this folder.
    """
    index_dir = base / "frame_index"
    if not (index_dir / "manifest.json").is_file():
        build_frame_index(prepared_shapes(base), index_dir, get_encoder(TEST_ENCODER), frames_per_clip=4)
    return index_dir


def as_rgb_clip(frames_bgr: np.ndarray, num_frames: int) -> np.ndarray:
    """``num_frames`` evenly spaced frames, RGB: what the encoders read."""
    return frames_bgr[np.linspace(0, len(frames_bgr) - 1, num_frames).astype(int)][..., ::-1].copy()


def shifted_recording_bgr(label: str, rng: np.random.Generator) -> np.ndarray:
    """A new recording of ``label``: a coloured background (training ones are grey), cropped, JPEG 30 (BGR)."""
    frames = shape_frames(label, rng).astype(np.int16)
    grey = frames[0, 0, 0].copy()  # the corner is background
    background = np.all(np.abs(frames - grey) < 45, axis=-1, keepdims=True)
    tint = rng.integers(-60, 61, 3)
    frames = np.where(background, frames + tint, frames).clip(0, 255).astype(np.uint8)
    out = []
    for frame in frames:
        crop = cv2.resize(frame[6:58, 4:60], (64, 64), interpolation=cv2.INTER_AREA)
        out.append(cv2.imdecode(cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 30])[1], cv2.IMREAD_COLOR))
    return np.stack(out)


def shifted_recording(label: str, rng: np.random.Generator, num_frames: int) -> np.ndarray:
    return as_rgb_clip(shifted_recording_bgr(label, rng), num_frames)


def unseen_activity_bgr(rng: np.random.Generator) -> np.ndarray:
    """An activity no class resembles: a thin magenta ring with a cross, drifting over a grey background (BGR)."""
    grey = int(rng.integers(60, 190))
    background = np.clip(rng.normal(grey, 14, (64, 64, 3)), 0, 255).astype(np.uint8)
    cx, cy = rng.uniform(20, 44, 2)
    frames = []
    for t in np.linspace(0, 1, 12):
        frame = background.copy()
        x, y = int(cx + 8 * t), int(cy - 6 * t)
        cv2.circle(frame, (x, y), 14, (200, 40, 200), 2)
        cv2.line(frame, (x - 14, y), (x + 14, y), (200, 40, 200), 2)
        cv2.line(frame, (x, y - 14), (x, y + 14), (200, 40, 200), 2)
        frames.append(frame)
    return np.stack(frames)


def unseen_activity(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    return as_rgb_clip(unseen_activity_bgr(rng), num_frames)
