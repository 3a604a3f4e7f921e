"""Shared fixtures: a synthetic motion dataset on disk and its prepared frame cache.

The expensive session fixtures (the motion data, the cnn3d trained on it, the assistant's data
directory) are built once per run and shared by the xdist workers (``testkit.shared_build``).
"""

import os
import tempfile
from pathlib import Path

# Each xdist worker gets its share of the cores: two workers each running torch, faiss and the CLIs
# they spawn on every core oversubscribe a 2-core machine (OpenMP threads spin while they wait).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

import pytest  # noqa: E402

from core.memory import keep_freed_memory  # noqa: E402
from testkit.shared_build import shared_folder  # noqa: E402
from testkit.synthetic import make_synthetic_dataset  # noqa: E402
from training.data.prepare import PrepareConfig, prepare_dataset  # noqa: E402
from training.data.sources import load_source  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
keep_freed_memory()  # as every product command does: in-process tests run the way users' processes do


@pytest.fixture(scope="session", autouse=True)
def _temp_files_under_pytests_folder(tmp_path_factory):
    """What the libraries driven by the tests leave in the system temp folder (gradio_client leaves an
    empty folder there for every file it downloads) goes under pytest's own folder, which pytest prunes."""
    previous, tempfile.tempdir = tempfile.tempdir, str(tmp_path_factory.mktemp("system-tmp"))
    yield
    tempfile.tempdir = previous


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """Four motion classes x 20 clips (10 groups of 2), 64x64, 24 frames, MJPEG AVI."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), per_class=20, seed=0)


@pytest.fixture(scope="session")
def prepared_synthetic(synthetic_root, tmp_path_factory) -> Path:
    """The synthetic set prepared at 8 frames x 32 px, 2 clips per video, split 70/15/15 by group."""
    out = tmp_path_factory.mktemp("prepared")
    clips = load_source(synthetic_root, "folder", seed=0)
    prepare_dataset(clips, out, PrepareConfig(num_frames=8, size=32, num_clips=2), workers=1)
    return out


@pytest.fixture(scope="session")
def motion_prepared(tmp_path_factory) -> Path:
    """Four motion classes x 40 clips (20 groups), 8 frames of 32 px, one cached clip per video."""
    from testkit.assistant_data import prepare_motion_data

    return shared_folder(tmp_path_factory, "motion", prepare_motion_data) / "prepared"


@pytest.fixture(scope="session")
def cnn3d_motion_run(motion_prepared, tmp_path_factory) -> Path:
    """The run folder of a cnn3d trained once on ``motion_prepared``; shared by training and assistant tests."""
    from testkit.assistant_data import train_cnn3d

    runs = shared_folder(tmp_path_factory, "runs", lambda folder: train_cnn3d(motion_prepared, folder / "cnn3d_motion"))
    return runs / "cnn3d_motion"


# ---------------------------------------------------------------------------------------------
# Assistant (issue 5): a trained motion classifier, its frame index and KB, built once.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def assistant_settings(tmp_path_factory, motion_prepared, cnn3d_motion_run):
    """Settings whose data dir holds a trained cnn3d, a calibrated fusion, a frame index and a KB."""
    from assistant.jobs.calibrate import calibrate, save_result
    from assistant.runtime.resources import Resources
    from testkit.assistant_data import build_data_dir, data_dir_settings

    def build(root: Path) -> None:
        resources = Resources.load(build_data_dir(root, motion_prepared, cnn3d_motion_run))
        save_result(calibrate(motion_prepared, resources, split="val"), resources)

    return data_dir_settings(shared_folder(tmp_path_factory, "assistant", build))


@pytest.fixture(scope="session")
def assistant_resources(assistant_settings):
    from assistant.runtime.resources import Resources

    return Resources.load(assistant_settings)


@pytest.fixture(scope="session")
def query_clips(tmp_path_factory):
    """One unseen clip per motion class (a seed the training set never used)."""
    from testkit.assistant_data import write_query_clips

    return write_query_clips(tmp_path_factory.mktemp("queries"))
