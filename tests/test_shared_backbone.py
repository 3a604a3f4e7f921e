"""One backbone pass per answer: a frozen effnet_frames and an index encoder with the same backbone.

The classifier is trained for one epoch at 32 px with its ImageNet backbone frozen; the index
is built with ``effnet_lite0@32`` (the same weights, size and normalisation), so the answer
computes frame features once and feeds the head and the FAISS search from them. An index at
64 px does not share the classifier's features, and the answer keeps the two passes.
"""

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from torch import nn

from assistant.analysis.gather import decode_for_analysis, gather_evidence
from assistant.analysis.retrieval import embed_windows, query_selections
from assistant.analysis.shared_backbone import classify_from_shared_pass, shares_backbone
from assistant.evidence import Evidence
from assistant.runtime.active_checkpoint import set_active_checkpoint
from assistant.runtime.resources import Resources
from core.settings import Settings
from indexing.encoders.base import l2_normalise
from indexing.encoders.registry import get_encoder
from indexing.frames.index_builder import build_frame_index
from testkit.assistant_data import write_kb, write_query_clip
from training.fit.trainer import TrainConfig, train
from training.runs import checkpoint_path
from video.decoding import Clip

SIZE = 32


@pytest.fixture(scope="module")
def frozen_effnet_run(motion_prepared, tmp_path_factory) -> Path:
    """effnet_frames with a frozen ImageNet backbone, one epoch at 32 px (decode = crop = 32)."""
    run_dir = tmp_path_factory.mktemp("runs") / "effnet_frozen"
    config = TrainConfig(
        model="effnet_frames",
        data=str(motion_prepared),
        epochs=1,
        batch_size=8,
        pretrained="yes",
        freeze_backbone=True,
        crop_size=SIZE,
        patience=0,
        progress=False,
    )
    train(config, run_dir)
    return run_dir


def data_dir(root: Path, prepared: Path, run: Path, encoder_name: str) -> Settings:
    settings = Settings(
        data_dir=root / "var", kb_dir=write_kb(root / "kb"), window_s=2.0, llm_provider="offline", num_frames=8
    )
    shutil.copytree(run, settings.runs_dir / run.name)
    set_active_checkpoint(settings, checkpoint_path(settings.runs_dir / run.name))
    build_frame_index(prepared, settings.index_dir, get_encoder(encoder_name), frames_per_clip=4)
    return settings


@pytest.fixture(scope="module")
def shared(motion_prepared, frozen_effnet_run, tmp_path_factory) -> tuple[Settings, Resources]:
    settings = data_dir(tmp_path_factory.mktemp("shared"), motion_prepared, frozen_effnet_run, f"effnet_lite0@{SIZE}")
    return settings, Resources.load(settings)


@pytest.fixture(scope="module")
def mismatched(motion_prepared, frozen_effnet_run, tmp_path_factory) -> tuple[Settings, Resources]:
    settings = data_dir(tmp_path_factory.mktemp("mismatched"), motion_prepared, frozen_effnet_run, "effnet_lite0@64")
    return settings, Resources.load(settings)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """6 s of one oscillation: several overlapping 2 s windows that share frames."""
    return write_query_clip(tmp_path_factory.mktemp("long") / "oscillate_6s.avi", ("Oscillate",), 77, repeats=3)


@dataclass
class ForwardCount:
    """Calls and frames through one backbone module, counted by a forward hook."""

    calls: int = 0
    frames: int = 0

    def hook(self, module: nn.Module, inputs: tuple, output: object) -> None:
        self.calls += 1
        self.frames += int(inputs[0].shape[0])


def count_forwards(
    resources: Resources, video: Path, settings: Settings, **kwargs
) -> tuple[ForwardCount, ForwardCount, Evidence]:
    """(classifier backbone, encoder backbone) forward counts over one answer, and its evidence."""
    counts = ForwardCount(), ForwardCount()
    # The encoder's backbone is its own module (built from the shipped weights), not the classifier's.
    modules = resources.classifier.model.backbone, resources.encoder._backbone
    assert modules[0] is not modules[1]
    handles = [module.register_forward_hook(count.hook) for module, count in zip(modules, counts, strict=True)]
    try:
        evidence = gather_evidence(video, resources, settings, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return counts[0], counts[1], evidence


def test_classifier_and_index_encoder_share_the_backbone_key(shared):
    _, resources = shared
    assert resources.classifier.feature_key is not None
    assert resources.classifier.feature_key == resources.encoder.feature_key


def test_one_backbone_pass_per_window_for_a_short_clip(shared, query_clips):
    settings, resources = shared
    windows = decode_for_analysis(query_clips["Fall"], resources, settings).clips
    assert len(windows) == 1 and len(windows[0].frames) == 8  # one window of the classifier's 8 frames
    classifier_count, encoder_count, evidence = count_forwards(resources, query_clips["Fall"], settings)
    assert (classifier_count.calls, encoder_count.calls) == (0, 1)
    assert encoder_count.frames == 8  # the query frames are among the classifier's: not computed again
    assert evidence.shared_backbone
    assert "features" in evidence.timings_ms
    assert not {"classify", "embed"} & set(evidence.timings_ms)
    assert {"decode", "search", "kb", "total"} <= set(evidence.timings_ms)


def test_each_frame_of_overlapping_windows_goes_through_the_backbone_once(shared, long_clip):
    settings, resources = shared
    windows = decode_for_analysis(long_clip, resources, settings).clips
    distinct = {int(i) for window in windows for i in window.frame_indices}
    assert len(windows) >= 3 and len(distinct) < 8 * len(windows)  # overlapping windows share frames
    classifier_count, encoder_count, evidence = count_forwards(resources, long_clip, settings)
    assert classifier_count.calls == 0
    assert encoder_count.frames == len(distinct)
    assert encoder_count.calls == math.ceil(len(distinct) / resources.encoder.batch_size)
    assert evidence.shared_backbone and evidence.timeline


def test_two_passes_when_forced_run_both_backbones_over_the_same_frames(shared, long_clip):
    settings, resources = shared
    windows = decode_for_analysis(long_clip, resources, settings).clips
    classifier_count, encoder_count, evidence = count_forwards(resources, long_clip, settings, share_backbone=False)
    assert classifier_count.frames == 8 * len(windows)
    assert encoder_count.frames == len({int(i) for indices, _ in query_selections(windows, 4) for i in indices})
    assert not evidence.shared_backbone
    assert {"classify", "embed"} <= set(evidence.timings_ms) and "features" not in evidence.timings_ms


def test_shared_pass_equals_the_two_passes(shared, long_clip, query_clips):
    settings, resources = shared
    for video in (long_clip, query_clips["Rotate"]):
        windows = decode_for_analysis(video, resources, settings).clips
        probabilities, features = classify_from_shared_pass(
            resources.classifier, resources.encoder, resources.index, windows
        )
        two_pass = resources.classifier.predict_proba(np.stack([window.frames for window in windows]))
        np.testing.assert_allclose(probabilities, two_pass, atol=1e-5)
        per_clip = resources.index.sampling.per_clip
        shared_vectors = [l2_normalise(features.of(indices)) for indices, _ in query_selections(windows, per_clip)]
        for got, want in zip(shared_vectors, embed_windows(resources.encoder, windows, per_clip), strict=True):
            np.testing.assert_allclose(got, want, atol=1e-5)

        one, two = (gather_evidence(video, resources, settings, share_backbone=flag) for flag in (True, False))
        assert one.shared_backbone and not two.shared_backbone
        assert [s.label for s in one.classifier.top_k] == [s.label for s in two.classifier.top_k]
        np.testing.assert_allclose(
            [s.probability for s in one.classifier.top_k], [s.probability for s in two.classifier.top_k], atol=1e-5
        )
        assert [n.clip_id for n in one.retrieval.neighbours] == [n.clip_id for n in two.retrieval.neighbours]
        np.testing.assert_allclose(
            [n.score for n in one.retrieval.neighbours], [n.score for n in two.retrieval.neighbours], atol=1e-5
        )
        assert [s.label for s in one.fused] == [s.label for s in two.fused]
        np.testing.assert_allclose([s.probability for s in one.fused], [s.probability for s in two.fused], atol=1e-5)
        assert one.verdict.label == two.verdict.label
        assert [s.label for s in one.timeline] == [s.label for s in two.timeline]


def test_an_index_at_another_size_keeps_two_passes(mismatched, query_clips):
    settings, resources = mismatched
    assert resources.encoder.feature_key != resources.classifier.feature_key
    classifier_count, encoder_count, evidence = count_forwards(resources, query_clips["Fall"], settings)
    assert classifier_count.calls == 1 and classifier_count.frames == 8
    assert encoder_count.calls == 1 and encoder_count.frames == 4  # the index's 4 frames per clip
    assert not evidence.shared_backbone
    assert {"classify", "embed"} <= set(evidence.timings_ms) and "features" not in evidence.timings_ms


def test_frames_that_the_classifier_would_crop_are_not_shared(shared):
    _, resources = shared
    # A keep-aspect decode: the classifier would crop it, the encoder stretch it.
    wide = np.zeros((8, SIZE, SIZE + 16, 3), dtype=np.uint8)
    window = Clip(frames=wide, frame_indices=np.arange(8), times_s=np.arange(8) / 12.0, start_s=0.0, end_s=8 / 12.0)
    square = Clip(
        frames=wide[:, :, :SIZE], frame_indices=np.arange(8), times_s=window.times_s, start_s=0.0, end_s=window.end_s
    )
    assert shares_backbone(resources.classifier, resources.encoder, resources.index, [square])
    assert not shares_backbone(resources.classifier, resources.encoder, resources.index, [window])
    assert not shares_backbone(resources.classifier, None, resources.index, [square])
