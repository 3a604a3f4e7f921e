"""Training learns motion, resumes exactly where it stopped, and its outputs are usable."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from core.errors import ArtifactError
from testkit.synthetic import make_synthetic_dataset
from training.__main__ import main
from training.data.frame_cache import FrameCache
from training.data.prepare import PrepareConfig, prepare_dataset
from training.data.sources import load_source
from training.evaluate.evaluation import evaluate
from training.fit.trainer import TrainConfig, train
from training.models.inference import predict

TIMING_COLUMNS = {"epoch_time_s", "train_clips_per_s"}


def test_cnn3d_learns_motion_and_beats_a_single_frame_model(cnn3d_motion_run, motion_prepared, tmp_path):
    motion = evaluate(cnn3d_motion_run, motion_prepared, "test", progress=False)["video_level"]["accuracy"]

    single_frame = TrainConfig(
        model="effnet_frames",
        data=str(motion_prepared),
        epochs=3,
        batch_size=16,
        lr=1e-2,
        num_frames=1,
        crop_size=28,
        freeze_backbone=True,
        pretrained="auto",
        patience=0,
        progress=False,
    )
    train(single_frame, tmp_path / "single")
    still = evaluate(tmp_path / "single", motion_prepared, "test", progress=False)["video_level"]["accuracy"]

    assert motion >= 0.9
    assert motion >= still + 0.3, f"cnn3d {motion:.2f} vs single frame {still:.2f}"


def test_run_dir_holds_every_artifact(cnn3d_motion_run):
    for name in ("checkpoint.pt", "last.pt", "history.csv", "metrics.json", "curves.png", "args.json"):
        assert (cnn3d_motion_run / name).stat().st_size > 0, name
    metrics = json.loads((cnn3d_motion_run / "metrics.json").read_text())
    assert metrics["epochs_done"] == 20 and 1 <= metrics["best_epoch"] <= 20
    assert metrics["params"] > 1e6 and metrics["inference_ms_per_clip"] > 0
    checkpoint = torch.load(cnn3d_motion_run / "checkpoint.pt", weights_only=True)
    assert checkpoint["summary"]["epoch"] == metrics["best_epoch"]
    assert checkpoint["preprocessing"]["crop_size"] == 28 and checkpoint["preprocessing"]["decode_size"] == 32


def test_predict_names_the_motion_of_an_unseen_video(cnn3d_motion_run, motion_prepared):
    rows = FrameCache(motion_prepared).rows("test")
    correct = 0
    for row in rows[:: max(1, len(rows) // 8)]:
        top = predict(cnn3d_motion_run / "checkpoint.pt", row.path, k=3)
        assert len(top) == 3 and [p for _, p in top] == sorted((p for _, p in top), reverse=True)
        correct += top[0][0] == row.label
    assert correct >= 0.75 * len(rows[:: max(1, len(rows) // 8)])


def _history(run_dir: Path) -> list[dict]:
    with (run_dir / "history.csv").open() as handle:
        return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in csv.DictReader(handle)]


def test_resume_continues_from_the_saved_epoch_exactly(prepared_synthetic, tmp_path):
    common = [
        "--model",
        "cnn3d",
        "--data",
        str(prepared_synthetic),
        "--out",
        str(tmp_path),
        "--crop-size",
        "16",
        "--patience",
        "0",
        "--seed",
        "3",
        "--scheduler",
        "plateau",  # a schedule that does not depend on the planned number of epochs
        "--no-progress",
    ]
    assert main(["train", *common, "--run-name", "stopped", "--epochs", "2"]) == 0
    assert [row["epoch"] for row in _history(tmp_path / "stopped")] == ["1", "2"]

    assert main(["train", "--out", str(tmp_path / "stopped"), "--resume", "--epochs", "3", "--no-progress"]) == 0
    assert main(["train", *common, "--run-name", "straight", "--epochs", "3"]) == 0

    resumed, straight = _history(tmp_path / "stopped"), _history(tmp_path / "straight")
    assert [row["epoch"] for row in resumed] == ["1", "2", "3"]
    assert resumed == straight  # same seed: same numbers, whether interrupted or not
    a = torch.load(tmp_path / "stopped" / "last.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)

    with pytest.raises(ArtifactError, match="--lr cannot change when resuming"):
        main(["train", "--out", str(tmp_path / "stopped"), "--resume", "--lr", "0.1"])
    with pytest.raises(ArtifactError, match="already holds a run"):
        main(["train", *common, "--run-name", "straight"])


def test_checkpoint_is_refused_on_data_with_other_classes(prepared_synthetic, tmp_path):
    config = TrainConfig(model="cnn3d", data=str(prepared_synthetic), epochs=1, crop_size=16, progress=False)
    train(config, tmp_path / "run")
    source = make_synthetic_dataset(tmp_path / "videos", classes=("Fall", "Slide"), per_class=4, seed=1)
    other = tmp_path / "other"
    prepare_dataset(load_source(source, "folder", seed=0), other, PrepareConfig(8, 32, 1), workers=1)

    refusal = r"classes do not match .*only in checkpoint: \['Oscillate', 'Rotate'\]"
    with pytest.raises(ArtifactError, match=refusal):
        evaluate(tmp_path / "run", other, "test", progress=False)
    with pytest.raises(ArtifactError, match=refusal):
        train(replace(config, data=str(other)), tmp_path / "run", resume=True)
