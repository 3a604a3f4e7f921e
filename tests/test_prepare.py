"""The frame cache: contents, resume, failure report, and the dataset that reads it."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from core.errors import DatasetError
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from testkit.synthetic import write_phone_like_vfr
from training.data.dataset import VideoDataset, clip_to_tensor, make_loader
from training.data.frame_cache import FrameCache
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source


def test_cache_holds_every_clip_with_its_split(prepared_synthetic):
    cache = FrameCache(prepared_synthetic)
    rows = cache.rows()
    assert len(rows) == 80
    assert {r.split for r in rows} == {"train", "val", "test"}
    frames = cache.load_frames(rows[0].clip_id)
    assert frames.shape == (2, 8, 32, 32, 3) and frames.dtype == np.uint8
    assert rows[0].fps == pytest.approx(12.0) and rows[0].duration_s == pytest.approx(2.0)
    train_groups = {r.group for r in cache.rows("train")}
    assert not train_groups & {r.group for r in cache.rows("test")}


def test_prepare_resumes_and_reports_failures(synthetic_root, tmp_path):
    source = tmp_path / "videos"
    shutil.copytree(synthetic_root / "Fall", source / "Fall")
    shutil.copytree(synthetic_root / "Slide", source / "Slide")
    (source / "Fall" / "v_Fall_g50_c01.avi").write_text("not a video")
    (source / "Slide" / "v_Slide_g50_c01.avi").touch()
    out = tmp_path / "prepared"
    config = PrepareConfig(num_frames=4, size=16, num_clips=1)

    first = prepare_dataset(load_source(source, "folder"), out, config, workers=2)
    assert (first.prepared, first.resumed, len(first.failures)) == (40, 0, 2)
    failures = json.loads((out / "failures.json").read_text())
    assert {f["path"].rsplit("/", 1)[1] for f in failures} == {"v_Fall_g50_c01.avi", "v_Slide_g50_c01.avi"}
    assert any("empty" in f["reason"] for f in failures)

    removed = FrameCache(out).rows()[5]
    (out / "frames" / f"{removed.clip_id}.npy").unlink()
    second = prepare_dataset(load_source(source, "folder"), out, config, workers=1)
    assert (second.prepared, second.resumed, len(second.failures)) == (1, 39, 2)
    assert len(FrameCache(out).rows()) == 40


def test_a_variable_frame_rate_clip_keeps_its_frame_times_into_the_index(synthetic_root, tmp_path):
    """A phone clip whose rate drops from 30 to 5 fps: the cache records its frames' true times (they
    cannot be rebuilt from fps and duration), and the frame index shows them."""
    source = tmp_path / "videos"
    shutil.copytree(synthetic_root / "Fall", source / "Fall")
    (source / "Night").mkdir()
    for n in range(1, 4):  # the folder source carves val/test by groups: three groups of one clip
        _, shown = write_phone_like_vfr(source / "Night" / f"v_Night_g0{n}_c01.mp4")
    out = tmp_path / "prepared"
    prepare_dataset(load_source(source, "folder"), out, PrepareConfig(num_frames=4, size=16, num_clips=2), workers=1)
    cache = FrameCache(out)
    night = [row for row in cache.rows() if row.label == "Night"]
    fall = [row for row in cache.rows() if row.label == "Fall"]
    assert all(cache.load_times(row.clip_id) is None for row in fall)  # regular clips: rebuilt, not stored
    for row in night:
        times = cache.load_times(row.clip_id)
        means = np.asarray(cache.load_frames(row.clip_id)).reshape(-1, 16, 16, 3).mean(axis=(1, 2, 3))
        frame_of = np.round(means / 3).astype(int)  # grey level 3*i tells the frame (within one level)
        # True times: index / average fps (13.3 fps) would put the frame shown at 1.5 s at 3.4 s.
        assert np.all(np.abs(times - shown[np.clip(frame_of, 0, 79)]) <= 0.21)
    encoder = get_encoder("effnet_lite0@32")
    index = build_frame_index(out, tmp_path / "index", encoder, frames_per_clip=8, splits=("train", "val", "test"))
    for row in night:
        recorded = [r.frame_time_s for r in index.records.values() if r.clip_id == row.clip_id]
        np.testing.assert_allclose(sorted(recorded), sorted(cache.load_times(row.clip_id)), atol=1e-3)


def test_prepare_refuses_to_mix_settings(synthetic_root, tmp_path):
    clips = [c for c in load_source(synthetic_root, "folder") if c.label == "Fall"][:2]
    prepare_dataset(clips, tmp_path, PrepareConfig(num_frames=4, size=16, num_clips=1), workers=1)
    with pytest.raises(DatasetError, match="other settings"):
        prepare_dataset(clips, tmp_path, PrepareConfig(num_frames=8, size=16, num_clips=1), workers=1)


def test_eval_items_are_deterministic_uint8_crops_that_the_model_input_normalises(prepared_synthetic):
    cache = FrameCache(prepared_synthetic)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    dataset = VideoDataset(cache, "test", cache.classes, train=False, crop_size=28, mean=mean, std=std)
    item, label, clip_id = dataset[0]
    raw = cache.load_frames(clip_id)[1, :, 2:30, 2:30]  # the middle cached clip, centre crop
    assert item.dtype == torch.uint8 and torch.equal(item, torch.from_numpy(np.array(raw)))
    assert torch.equal(item, dataset[0][0])
    assert cache.classes[label] == cache.row(clip_id).label
    batch = dataset.model_input(torch.stack([item, item]))
    assert batch.shape == (2, 3, 8, 28, 28) and batch.dtype == torch.float32 and batch.is_contiguous()
    expected = (raw.astype(np.float32) / 255 - np.array(mean, np.float32)) / np.array(std, np.float32)
    np.testing.assert_allclose(batch[1].numpy(), expected.transpose(3, 0, 1, 2), atol=1e-6)
    # One formula: what inference feeds the model for this clip is what evaluation feeds it.
    assert torch.equal(batch[0], clip_to_tensor(np.array(cache.load_frames(clip_id)[1]), 28, mean, std))


def test_train_items_are_augmented_reproducibly(prepared_synthetic):
    cache = FrameCache(prepared_synthetic)
    dataset = VideoDataset(cache, "train", cache.classes, train=True, crop_size=24, seed=1)
    first = [dataset[i][0] for i in range(8)]
    assert all(a.shape == (8, 24, 24, 3) and a.dtype == torch.uint8 for a in first)
    assert all(torch.equal(a, dataset[i][0]) for i, a in enumerate(first))
    dataset.set_epoch(1)
    assert any(not torch.equal(a, dataset[i][0]) for i, a in enumerate(first))


def test_balanced_loader_evens_out_classes(prepared_synthetic):
    cache = FrameCache(prepared_synthetic)
    dataset = VideoDataset(cache, "train", cache.classes, train=False, crop_size=16)
    dataset.labels = [0] * (len(dataset) - 4) + [1] * 4  # make it heavily imbalanced
    seen = torch.cat([labels for _, labels, _ in make_loader(dataset, 16, shuffle=True, balanced=True)])
    assert 0.3 < (seen == 1).float().mean() < 0.7


def test_dataset_refuses_unknown_labels(prepared_synthetic):
    cache = FrameCache(prepared_synthetic)
    with pytest.raises(DatasetError, match="does not know"):
        VideoDataset(cache, "train", ["Fall", "Slide"], train=False)


@pytest.mark.slow
def test_prepare_cli_reports_errors_and_exit_code(tmp_path, synthetic_root):
    missing = subprocess.run(
        [sys.executable, "-m", "training", "prepare", "--source", str(tmp_path / "none"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 1
    assert "error:" in missing.stderr and "not found" in missing.stderr
    done = subprocess.run(
        [sys.executable, "-m", "training", "prepare", "--source", str(synthetic_root), "--out", str(tmp_path / "p"),
         "--classes", "Fall,Slide", "--num-frames", "4", "--size", "16", "--num-clips", "1", "--workers", "1"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "prepared 40 clip(s)" in done.stdout
