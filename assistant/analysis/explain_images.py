"""Explanations as pictures: heat blended over the frames, and the files the CLI writes.

Frames are as small as the model's input (112 px, 28 px in tests), so they are enlarged for
people before blending. Cold pixels stay as they were; hot ones turn red, so what the model
ignored is still readable underneath. The UI shows the same images the CLI writes.
"""

import io
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from assistant.analysis.explain import Explanation  # noqa: E402
from core.atomic import atomic_write, atomic_write_bytes  # noqa: E402

DISPLAY_SIZE = 224
# How much of the colour map covers the frame at the hottest pixel.
MAX_BLEND = 0.6
GIF_FRAME_MS = 125


def overlay(frame: np.ndarray, heat: np.ndarray, size: int = DISPLAY_SIZE) -> np.ndarray:
    """uint8 RGB (size, size, 3): ``frame`` (H, W, 3) with ``heat`` (H, W) in [0, 1] blended over it."""
    picture = cv2.resize(frame, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    heat = np.clip(cv2.resize(heat.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR), 0, 1)
    colours = cv2.cvtColor(cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    alpha = (MAX_BLEND * heat)[..., None]
    return np.clip(picture * (1 - alpha) + colours.astype(np.float32) * alpha, 0, 255).astype(np.uint8)


def key_frame_images(explanation: Explanation) -> list[tuple[np.ndarray, str]]:
    """(overlay, caption) for each key frame, in time order."""
    return [
        (overlay(k.frame, k.heat), f"{k.time_s:.1f} s · importance {k.importance:.2f}") for k in explanation.key_frames
    ]


def gif_bytes(explanation: Explanation) -> bytes:
    """The most decisive window, every frame overlaid, as a looping GIF."""
    pictures = [
        Image.fromarray(overlay(f, h)) for f, h in zip(explanation.clip_frames, explanation.clip_heat, strict=True)
    ]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=GIF_FRAME_MS, loop=0)
    return buffer.getvalue()


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def curve_png(explanation: Explanation, path: Path) -> Path:
    """The importance curve over time, with the key moments marked."""
    part = explanation.part
    times, values = zip(*part.curve, strict=True)
    figure, axis = plt.subplots(figsize=(6, 2.4))
    try:
        axis.plot(times, values, color="tab:red")
        axis.scatter([m.time_s for m in part.moments], [m.importance for m in part.moments], color="black", zorder=3)
        axis.set(xlabel="time (s)", ylabel="importance", ylim=(0, 1.05), title=f"When {part.label} was seen")
        axis.grid(alpha=0.3)
        figure.tight_layout()
        return atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=100))
    finally:
        plt.close(figure)


def write_files(explanation: Explanation, out_dir: Path, stem: str) -> list[Path]:
    """PNG overlays of the key frames, a GIF of the decisive window and the curve; returns their paths."""
    label = explanation.part.label
    paths = [
        atomic_write_bytes(out_dir / f"{stem}_{label}_{k.time_s:06.2f}s.png", _png(image))
        for k, (image, _) in zip(explanation.key_frames, key_frame_images(explanation), strict=True)
    ]
    paths.append(atomic_write_bytes(out_dir / f"{stem}_{label}.gif", gif_bytes(explanation)))
    paths.append(curve_png(explanation, out_dir / f"{stem}_{label}_importance.png"))
    return paths
