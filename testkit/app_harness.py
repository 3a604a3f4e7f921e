"""Run the real app in-process on 127.0.0.1 for tests: gradio_client and a browser drive it.

The app is started with ``launch_app``, the same function ``python app.py`` calls, on a private
copy of a built data directory and KB, so tests that edit them never touch shared fixtures.
"""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assistant.ui import launch_app
from core.settings import Settings
from testkit.loopback import free_port
from testkit.synthetic import write_opencv


def private_copy(settings: Settings, root: Path) -> Settings:
    """The same data directory and KB, copied under ``root``."""
    shutil.copytree(settings.data_dir, root / "var")
    shutil.copytree(settings.kb_dir, root / "kb")
    return settings.model_copy(update={"data_dir": root / "var", "kb_dir": root / "kb"})


@contextmanager
def running_app(settings: Settings) -> Iterator[str]:
    """The app's URL while it runs; the offline answerer, so answers never need the network."""
    port = free_port()
    settings = settings.model_copy(update={"llm_provider": "offline"})
    demo = launch_app(settings, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def write_checkerboard_clip(path: Path, seed: int = 7, frames: int = 24) -> Path:
    """A clip unlike any synthetic motion: a drifting black-and-yellow checkerboard."""
    rng = np.random.default_rng(seed)
    cell = int(rng.integers(6, 10))
    grid = (np.indices((64, 64)).sum(axis=0) // cell) % 2
    video = []
    for t in range(frames):
        board = np.roll(grid, t, axis=1)[..., None]
        video.append(np.where(board, np.array([0, 220, 240], np.uint8), np.array([20, 20, 20], np.uint8)))
    return write_opencv(path, np.stack(video).astype(np.uint8))
