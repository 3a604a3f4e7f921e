"""Evaluate a checkpoint on a split of a prepared dataset, clip by clip and video by video.

The frame cache holds K clips per video (equal segments). Clip-level results score each of
them on its own; video-level results average the K probability vectors of a video first,
which is how the product answers for a whole video. A frozen-backbone frame model reads the
feature store its training built (the same features, no backbone pass) when one is complete.
"""

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from core.atomic import atomic_write_json
from training.data.dataset import SplitDataset, VideoDataset, make_loader
from training.data.feature_dataset import FeatureClipDataset
from training.data.feature_store import FeatureStore
from training.data.frame_cache import FrameCache
from training.device import amp_enabled, autocast, pick_device
from training.evaluate.metrics import classification_metrics
from training.evaluate.plots import plot_confusion
from training.models.checkpoint import LoadedClassifier, load_classifier
from training.models.frame_classifier import HeadOnly
from training.models.frame_features import shared_feature_key
from training.runs import checkpoint_path

log = logging.getLogger(__name__)


def clip_probabilities(
    model: nn.Module,
    dataset: SplitDataset,
    device: torch.device,
    *,
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "evaluate",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Softmax outputs (N, C), labels (N,) and clip ids for every item of ``dataset``."""
    model = model.to(device).eval()
    amp = amp_enabled(device)
    probs, labels, ids = [], [], []
    loader = make_loader(dataset, batch_size, shuffle=False)
    with torch.inference_mode():
        for clips, batch_labels, batch_ids in tqdm(loader, desc=desc, unit="batch", disable=not progress):
            inputs = dataset.model_input(clips.to(device))
            with autocast(device, amp):
                logits = model(inputs)
            probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
            labels.append(batch_labels.numpy())
            ids.extend(batch_ids)
    return np.concatenate(probs), np.concatenate(labels), ids


def _check_preprocessing(classifier: LoadedClassifier, cache: FrameCache) -> None:
    p = classifier.preprocessing
    cached = int(cache.config["size"])
    if cached != p.decode_size or bool(cache.config.get("keep_aspect", False)) != p.keep_aspect:
        log.warning(
            "the checkpoint was trained on %d px frames (keep_aspect=%s) but %s holds %d px frames; "
            "results may be lower than on matching data",
            p.decode_size,
            p.keep_aspect,
            cache.root,
            cached,
        )


def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "test",
    *,
    out_dir: str | Path | None = None,
    batch_size: int = 16,
    device: str = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Score ``checkpoint`` on ``split``; writes eval/confusion files next to the checkpoint."""
    path = checkpoint_path(checkpoint)
    cache = FrameCache(data)
    classifier = load_classifier(path, expected_classes=cache.classes)
    _check_preprocessing(classifier, cache)
    torch_device = pick_device(device)
    p = classifier.preprocessing
    num_clips = int(cache.config["num_clips"])
    key = shared_feature_key(classifier.model, p)
    store = FeatureStore.open(cache.root, key) if key else None
    if store is not None:
        log.info("evaluating from cached features in %s", store.root)
    model = HeadOnly(classifier.model) if store is not None else classifier.model
    per_clip = []
    for index in range(num_clips):
        if store is not None:
            dataset = FeatureClipDataset(
                store, cache, split, classifier.classes, train=False, num_frames=p.num_frames, clip_index=index
            )
        else:
            dataset = VideoDataset.for_model(cache, split, classifier.classes, p, train=False, clip_index=index)
        per_clip.append(
            clip_probabilities(
                model,
                dataset,
                torch_device,
                batch_size=batch_size,
                progress=progress,
                desc=f"{split} clip {index + 1}/{num_clips}",
            )
        )
    labels, ids = per_clip[0][1], per_clip[0][2]
    clip_probs = np.concatenate([probs for probs, _, _ in per_clip])
    video_probs = np.mean([probs for probs, _, _ in per_clip], axis=0)
    report = {
        "checkpoint": str(path),
        "model": classifier.name,
        "data": str(cache.root),
        "split": split,
        "classes": classifier.classes,
        "clips_per_video": num_clips,
        "clip_level": classification_metrics(clip_probs, np.tile(labels, num_clips), classifier.classes),
        "video_level": classification_metrics(video_probs, labels, classifier.classes),
        "video_predictions": [
            {
                "clip_id": clip_id,
                "label": classifier.classes[int(label)],
                "predicted": classifier.classes[int(row.argmax())],
                "prob": round(float(row.max()), 4),
            }
            for clip_id, label, row in zip(ids, labels, video_probs, strict=True)
        ],
    }
    out = Path(out_dir) if out_dir else path.parent
    video = report["video_level"]
    atomic_write_json(out / f"eval_{split}.json", report)
    atomic_write_json(
        out / f"confusion_{split}.json",
        {"classes": classifier.classes, "level": "video", "matrix": video["confusion_matrix"]},
    )
    plot_confusion(
        video["confusion_matrix"],
        classifier.classes,
        out / f"confusion_{split}.png",
        f"{classifier.name} on {split}: video accuracy {video['accuracy']:.1%}",
    )
    return report


def format_report(report: dict[str, Any]) -> str:
    """A short human summary for the terminal."""
    lines = [f"{report['model']} on {report['split']} ({report['data']})"]
    for level in ("clip_level", "video_level"):
        m = report[level]
        tops = ", ".join(f"{k} {v:.3f}" for k, v in m["top_k"].items())
        lines.append(
            f"  {level.replace('_', '-')}: n={m['num_samples']} accuracy {m['accuracy']:.3f}, "
            f"macro F1 {m['macro_f1']:.3f}" + (f", {tops}" if tops else "")
        )
    for pair in report["video_level"]["worst_confused"]:
        lines.append(f"  confused: {pair['true']} -> {pair['predicted']} ({pair['count']}x, {pair['rate']:.0%})")
    return "\n".join(lines)
