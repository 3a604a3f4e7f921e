"""One-command setup: from a folder of labelled clips to an assistant that answers, offline.

Runs the real pipeline (prepare, EfficientNet-Lite0 frames with a frozen backbone, evaluation,
frame index, KB sync, activation, calibration) on a small shapes set whose classes single
frames can tell apart, at tiny sizes.
"""

import json

import numpy as np
import pytest

from assistant.__main__ import main as assistant_main
from assistant.jobs.setup_pipeline import STEPS, SetupOptions, run_setup
from assistant.runtime.active_checkpoint import find_active_checkpoint
from assistant.service import Assistant
from core.cli import run_cli
from core.settings import Settings
from indexing.encoders.onnx_encoder import OnnxFrameEncoder
from indexing.frames.frame_index import FrameIndex
from indexing.kb.knowledge_base import KnowledgeBase
from testkit.retrieval_data import SHAPES, make_shapes_dataset, shape_frames
from testkit.synthetic import write_opencv
from training.data.frame_cache import FrameCache
from training.models.onnx_model import OnnxModel

OPTIONS = SetupOptions(epochs=3, num_frames=4, size=64, encoder="effnet_lite0@64", frames_per_clip=4, workers=1)


def shapes_kb(folder):
    folder.mkdir()
    for label in SHAPES:
        (folder / f"{label.lower()}.md").write_text(
            f"---\nlabel: {label}\n---\n# {label}\n\n## What it is\n\nOne {label} drifting over grey noise.\n",
            encoding="utf-8",
        )
    return folder


@pytest.fixture(scope="module")
def setup_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("setup")
    source = make_shapes_dataset(root / "videos", per_class=8)
    settings = Settings(data_dir=root / "var", kb_dir=shapes_kb(root / "kb"), llm_provider="offline")
    steps = []
    report = run_setup(source, settings, OPTIONS, progress=lambda fraction, message: steps.append((fraction, message)))
    return settings, report, steps


def test_setup_builds_every_part_and_activates_the_model(setup_run):
    settings, report, steps = setup_run
    classes = sorted(SHAPES)
    cache = FrameCache(settings.prepared_dir)
    assert report.clips == 32 and report.classes == classes == cache.classes
    assert find_active_checkpoint(settings) == report.checkpoint.resolve()
    metrics = json.loads((report.checkpoint.parent / "metrics.json").read_text())
    assert metrics["model"] == "effnet_frames" and metrics["epochs_done"] == 3
    assert metrics["trainable_params"] < metrics["params"] / 10  # the ImageNet backbone stayed frozen
    assert (report.checkpoint.parent / "eval_test.json").is_file() and report.test_acc is not None
    assert (report.checkpoint.parent / "confusion_test.png").is_file()
    assert (report.checkpoint.parent / "calibration.json").is_file()

    index = FrameIndex.load(settings.index_dir)
    train_clips = len(cache.rows("train"))
    assert report.indexed_clips == len(index.clip_ids()) == train_clips
    assert report.indexed_frames == len(index) == train_clips * OPTIONS.frames_per_clip
    assert index.classes() == classes and index.encoder_spec["name"] == "effnet_lite0@64"
    assert sorted(KnowledgeBase(settings.kb_dir, settings.chroma_dir).entries()) == classes
    # Under the default runtime (auto) on the CPU, setup exported the frozen backbone to fill the feature store,
    # checked against torch on the prepared frames.
    (export,) = (settings.exports_dir / "encoders").glob("*.onnx")
    assert OnnxFrameEncoder(OnnxModel(export)).parity["feature_cosine"] > 0.9999
    # ... and the trained run, so that answers run on ONNX Runtime once it agreed and ran faster.
    manifest = json.loads((report.checkpoint.parent / "export" / "export.json").read_text())
    assert manifest["serve"] == "fp32" and manifest["parity"]["fp32"]["top1_agreement"] == 1.0
    assert "ONNX export: fp32, top-1 agreement with torch 100%" in report.summary()

    fractions = [fraction for fraction, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [message.split(":")[0] for _, message in steps[:-1]] == list(STEPS)
    assert "active checkpoint" in report.summary()


def test_the_built_assistant_recognises_a_new_clip(setup_run, tmp_path):
    settings, _, _ = setup_run
    clip = write_opencv(tmp_path / "query.avi", shape_frames("RedDisc", np.random.default_rng(321)))
    evidence, answer = Assistant(settings, llm="offline").ask(clip)
    assert evidence.verdict.label == "RedDisc" and not evidence.missing
    assert evidence.classifier is not None and evidence.classifier.model == "effnet_frames"
    assert evidence.retrieval is not None and evidence.retrieval.neighbours[0].label == "RedDisc"
    assert evidence.kb_passages[0].citation == "[kb/reddisc.md § What it is]"
    assert "### RedDisc" in answer and "`v_RedDisc_" in answer


def test_setup_command_reports_a_missing_dataset(tmp_path, capsys):
    argv = ["--data-dir", str(tmp_path / "var"), "setup", "--data", str(tmp_path / "nowhere")]
    assert run_cli(assistant_main, argv) == 1
    assert f"error: {tmp_path / 'nowhere'}: dataset folder not found." in capsys.readouterr().err
    assert not (tmp_path / "var" / "runs").exists()
