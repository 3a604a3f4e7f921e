"""Artifacts the assistant tests share, built with the product's own training and indexing code.

A motion dataset (the classes of ``testkit.synthetic``), a small cnn3d trained on it, a frame
index of its training clips, a knowledge base whose activities are those motions, and fresh
query clips the model has never seen. Built once per test session by ``tests/conftest.py``.
"""

import shutil
from pathlib import Path

import numpy as np

from core.settings import Settings
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from testkit.synthetic import MOTIONS, make_synthetic_dataset, motion_frames, write_opencv
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source
from training.fit.trainer import TrainConfig, train

# A small EfficientNet input keeps the real encoder fast on 32 px frames.
INDEX_ENCODER = "effnet_lite0@64"
FPS = 12.0
CLIP_FRAMES = 24  # 2 s at 12 fps, like every training clip

KB_FILES = {
    "Oscillate": (
        "oscillate.md",
        ["swinging bar", "back and forth"],
        ["Slide", "Rotate"],
        "A bar that swings from side to side and back, twice per clip.",
        "- Motion: the bar moves left and right repeatedly, reversing direction at each side.\n"
        "- Position: it stays near the middle row of the frame.",
        "**Slide**: both move sideways. A slide crosses the frame once in one direction; an "
        "oscillation comes back.\n\n**Rotate**: both stay near the centre. A rotating bar turns "
        "in place instead of moving.",
    ),
    "Fall": (
        "fall.md",
        ["falling bar", "drop"],
        ["Slide"],
        "A bar that drops from the top of the frame to the bottom.",
        "- Motion: the bar moves straight down at a steady speed.\n"
        "- Position: it starts near the top edge and ends near the bottom edge.",
        "**Slide**: both cross the frame once. A fall goes top to bottom; a slide goes left to right.",
    ),
    "Rotate": (
        "rotate.md",
        ["spinning bar", "turning"],
        ["Oscillate"],
        "A bar that spins a full turn about its centre.",
        "- Motion: the bar turns in place through 360 degrees.\n- Position: its centre does not move.",
        "**Oscillate**: both stay near the centre. An oscillating bar moves from side to side; "
        "a rotating one only turns.",
    ),
    "Slide": (
        "slide.md",
        ["sliding bar", "moving sideways"],
        ["Fall", "Oscillate"],
        "A bar that slides across the frame from left to right.",
        "- Motion: the bar moves horizontally at a steady speed, once.\n"
        "- Position: it starts at the left edge and ends at the right edge.",
        "**Fall**: both cross the frame once. A slide goes left to right; a fall goes top to bottom.\n\n"
        "**Oscillate**: both move sideways, but an oscillation reverses direction.",
    ),
}


def kb_text(label: str) -> str:
    _, aliases, confused, what, looks, confusion = KB_FILES[label]
    return (
        f"---\nlabel: {label}\naliases: [{', '.join(aliases)}]\nconfused_with: [{', '.join(confused)}]\n---\n"
        f"# {label}\n\n## What it is\n\n{what}\n\n## How it looks on video\n\n{looks}\n\n"
        f"## Often confused with\n\n{confusion}\n"
    )


def write_kb(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for label, (name, *_) in KB_FILES.items():
        (folder / name).write_text(kb_text(label), encoding="utf-8")
    return folder


def prepare_motion_data(root: Path) -> Path:
    """Four motion classes x 40 clips (20 groups), 8 frames of 32 px, split 70/15/15 by group."""
    source = make_synthetic_dataset(root / "videos", per_class=40, seed=0)
    prepared = root / "prepared"
    clips = load_source(source, "folder", seed=0)
    prepare_dataset(clips, prepared, PrepareConfig(num_frames=8, size=32, num_clips=1), workers=1)
    return prepared


def train_cnn3d(prepared: Path, run_dir: Path) -> Path:
    """A cnn3d that tells the motions apart (random 28 px crops are what make it generalise)."""
    config = TrainConfig(
        model="cnn3d", data=str(prepared), epochs=20, batch_size=8, lr=5e-4, crop_size=28, patience=0, progress=False
    )
    train(config, run_dir)
    return run_dir


def data_dir_settings(root: Path) -> Settings:
    """The settings of the data directory ``build_data_dir`` makes under ``root``."""
    return Settings(data_dir=root / "var", kb_dir=root / "kb", window_s=2.0, llm_provider="offline", num_frames=8)


def build_data_dir(root: Path, prepared: Path, cnn3d_run: Path) -> Settings:
    """A complete data directory (a copy of the trained run, a frame index, a KB) and its settings."""
    settings = data_dir_settings(root)
    write_kb(settings.kb_dir)
    shutil.copytree(cnn3d_run, settings.runs_dir / cnn3d_run.name)
    build_frame_index(prepared, settings.index_dir, get_encoder(INDEX_ENCODER), frames_per_clip=4)
    return settings


def write_query_clip(path: Path, labels: tuple[str, ...], seed: int, repeats: int = 1, fps: float = FPS) -> Path:
    """A video of one unseen synthetic clip per label, back to back, each looped ``repeats`` times.

    Looping is seamless only for the periodic motions (Oscillate, Rotate), which is what a
    long video of one continuing activity needs.
    """
    rng = np.random.default_rng(seed)
    parts = [np.tile(motion_frames(label, rng, (64, 64), CLIP_FRAMES), (repeats, 1, 1, 1)) for label in labels]
    return write_opencv(path, np.concatenate(parts), fps=fps)


def write_query_clips(folder: Path, seed: int = 1234) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        label: write_query_clip(folder / f"query_{label}.avi", (label,), seed + n) for n, label in enumerate(MOTIONS)
    }
