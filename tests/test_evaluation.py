"""Evaluation files and the comparison table agree with predictions made clip by clip."""

import json

import numpy as np
import pytest
import torch

from training.__main__ import main
from training.data.frame_cache import FrameCache
from training.evaluate.compare import compare_runs
from training.evaluate.evaluation import evaluate
from training.models.checkpoint import save_checkpoint
from training.models.inference import Classifier
from training.models.registry import build_model, get_spec
from training.runs import METRICS
from video.preprocessing import Preprocessing


@pytest.fixture
def run_dir(prepared_synthetic, tmp_path):
    """A run folder with an (untrained) cnn3d checkpoint for the synthetic classes."""
    cache = FrameCache(prepared_synthetic)
    spec = get_spec("cnn3d")
    kwargs = {"num_frames": 8, "input_size": 28}
    torch.manual_seed(0)
    model = build_model("cnn3d", len(cache.classes), **kwargs)
    run = tmp_path / "run"
    save_checkpoint(
        run / "checkpoint.pt",
        model,
        name="cnn3d",
        model_kwargs=kwargs,
        classes=cache.classes,
        preprocessing=Preprocessing(8, 32, 28, spec.mean, spec.std),
    )
    (run / METRICS).write_text(
        json.dumps(
            {
                "model": "cnn3d",
                "params": 1_234_567,
                "best_val_acc": 0.5,
                "train_time_s": 12.0,
                "inference_ms_per_clip": 3.25,
                "inference_device": "cpu",
            }
        )
    )
    return run


def test_video_level_averages_the_cached_clips(run_dir, prepared_synthetic):
    report = evaluate(run_dir, prepared_synthetic, "test", progress=False)
    cache = FrameCache(prepared_synthetic)
    rows = cache.rows("test")
    classifier = Classifier.from_checkpoint(run_dir)

    assert report["clips_per_video"] == 2
    assert report["clip_level"]["num_samples"] == 2 * len(rows)
    assert report["video_level"]["num_samples"] == len(rows)
    correct = 0
    for row, prediction in zip(rows, report["video_predictions"], strict=True):
        probs = classifier.predict_proba(np.asarray(cache.load_frames(row.clip_id))).mean(axis=0)
        assert prediction["clip_id"] == row.clip_id
        assert prediction["predicted"] == cache.classes[int(probs.argmax())]
        assert prediction["prob"] == pytest.approx(float(probs.max()), abs=1e-4)
        correct += prediction["predicted"] == row.label
    assert report["video_level"]["accuracy"] == pytest.approx(correct / len(rows))

    saved = json.loads((run_dir / "eval_test.json").read_text())
    assert saved["video_level"]["accuracy"] == report["video_level"]["accuracy"]
    confusion = json.loads((run_dir / "confusion_test.json").read_text())
    assert np.sum(confusion["matrix"]) == len(rows) and confusion["classes"] == cache.classes
    assert (run_dir / "confusion_test.png").read_bytes()[:4] == b"\x89PNG"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_compare_prints_one_row_per_run(run_dir, prepared_synthetic, capsys):
    assert main(["evaluate", "--checkpoint", str(run_dir), "--data", str(prepared_synthetic), "--no-progress"]) == 0
    video = json.loads((run_dir / "eval_test.json").read_text())["video_level"]
    capsys.readouterr()

    assert main(["compare", str(run_dir)]) == 0
    header, rule, row = capsys.readouterr().out.strip().splitlines()
    cells = dict(zip(_cells(header), _cells(row), strict=True))
    assert cells["run"] == "run" and cells["model"] == "cnn3d"
    assert cells["params (M)"] == "1.23" and cells["train time (s)"] == "12"
    assert cells["video acc"] == f"{video['accuracy']:.3f}"
    assert cells["macro F1 (video)"] == f"{video['macro_f1']:.3f}"
    assert cells["inference ms/clip"] == "3.2 (cpu)"
    assert "| - |" in compare_runs([run_dir], split="val")  # not evaluated on val yet
