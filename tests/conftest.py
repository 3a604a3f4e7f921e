"""Shared fixtures: a synthetic motion dataset on disk and its prepared frame cache."""

import os
import tempfile
from pathlib import Path

import pytest

from core.memory import keep_freed_memory
from testkit.synthetic import make_synthetic_dataset
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source

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

    return prepare_motion_data(tmp_path_factory.mktemp("motion"))


@pytest.fixture(scope="session")
def cnn3d_motion_run(motion_prepared, tmp_path_factory) -> Path:
    """The run folder of a cnn3d trained once on ``motion_prepared``; shared by training and assistant tests."""
    from testkit.assistant_data import train_cnn3d

    return train_cnn3d(motion_prepared, tmp_path_factory.mktemp("runs") / "cnn3d_motion")


# ---------------------------------------------------------------------------------------------
# Assistant (issue 5): a trained motion classifier, its frame index and KB, built once.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def assistant_settings(tmp_path_factory, motion_prepared, cnn3d_motion_run):
    """Settings whose data dir holds a trained cnn3d, a calibrated fusion, a frame index and a KB."""
    from assistant.library.calibrate import calibrate, save_result
    from assistant.library.resources import Resources
    from testkit.assistant_data import build_data_dir

    settings = build_data_dir(tmp_path_factory.mktemp("assistant"), motion_prepared, cnn3d_motion_run)
    resources = Resources.load(settings)
    save_result(calibrate(motion_prepared, resources, split="val"), resources)
    return settings


@pytest.fixture(scope="session")
def assistant_resources(assistant_settings):
    from assistant.library.resources import Resources

    return Resources.load(assistant_settings)


@pytest.fixture(scope="session")
def query_clips(tmp_path_factory):
    """One unseen clip per motion class (a seed the training set never used)."""
    from testkit.assistant_data import write_query_clips

    return write_query_clips(tmp_path_factory.mktemp("queries"))
