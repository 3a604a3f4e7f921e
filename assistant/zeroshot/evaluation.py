"""Zero-shot accuracy on a labelled split: how far the KB's words alone get, next to trained models.

Every clip of the split is scored against every KB activity from frames spread over the whole
video (the same frames the frame index takes), so the numbers compare with the trained
models' video-level accuracy. Clips whose label has no KB file cannot be named zero-shot;
they are counted and listed, not scored.
"""

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from assistant.zeroshot.scorer import MAX_FRAMES, ZeroShotScorer
from core.errors import DatasetError
from indexing.frames.index_builder import cached_clip_frames
from indexing.kb.knowledge_base import KbEntry
from training.data.frame_cache import FrameCache
from training.evaluate.metrics import classification_metrics
from training.runs import read_json

TOP_K = 5


def evaluate_zero_shot(
    prepared_dir: str | Path,
    scorer: ZeroShotScorer,
    entries: Mapping[str, KbEntry],
    *,
    split: str = "test",
    frames_per_clip: int = MAX_FRAMES,
    progress: bool = True,
) -> dict[str, Any]:
    cache = FrameCache(prepared_dir)
    rows = cache.rows(split)
    if not rows:
        raise DatasetError(f"{prepared_dir} has no clips in split {split!r}.")
    labels = sorted(entries)
    scored = [row for row in rows if row.label in entries]
    unscorable = Counter(row.label for row in rows if row.label not in entries)
    if not scored:
        raise DatasetError(
            f"None of the {split} labels ({', '.join(sorted(unscorable))}) has a KB file; zero-shot matching "
            "can only name activities described in kb/."
        )
    probabilities = np.zeros((len(scored), len(labels)))
    for n, row in enumerate(tqdm(scored, desc=f"zero-shot ({scorer.name})", unit="clip", disable=not progress)):
        frames, _ = cached_clip_frames(cache, row, frames_per_clip)
        scores = scorer.score(frames, entries)
        probabilities[n] = [scores[label] for label in labels]
    truth = np.array([labels.index(row.label) for row in scored])
    metrics = classification_metrics(probabilities, truth, labels, top_k=(TOP_K,))
    return {
        "model": scorer.name,
        "weights": scorer.weights,
        "data": str(cache.root),
        "split": split,
        "activities": labels,
        "frames_per_clip": frames_per_clip,
        "num_samples": metrics["num_samples"],
        "top1": metrics["accuracy"],
        # With five activities or fewer every label is in the top five.
        "top5": metrics["top_k"].get(f"top{TOP_K}", 1.0),
        "macro_f1": metrics["macro_f1"],
        "per_class": metrics["per_class"],
        "worst_confused": metrics["worst_confused"],
        "unscorable_labels": dict(sorted(unscorable.items())),
    }


def trained_results(runs_dir: Path, prepared_dir: str | Path, split: str) -> list[tuple[str, str, float, float | None]]:
    """(run, model, video accuracy, video top-5) of every run evaluated on the same data and split."""
    found = []
    for path in sorted(runs_dir.glob(f"*/eval_{split}.json")) if runs_dir.is_dir() else []:
        report = read_json(path) or {}
        video = report.get("video_level") or {}
        same_data = Path(str(report.get("data", ""))).resolve() == Path(prepared_dir).resolve()
        if same_data and "accuracy" in video:
            found.append(
                (path.parent.name, str(report.get("model", "?")), video["accuracy"], video["top_k"].get("top5"))
            )
    return found
