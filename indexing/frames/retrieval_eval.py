"""Retrieval judged as a classifier: kNN label vote on held-out clips against the indexed ones.

Queries are clips of one split (test by default) taken from the frame cache exactly as the
index took its clips; the index should hold only training clips (its default). The report has
the classifiers' metrics (accuracy, macro F1, per class, confusion) so both compare in one table,
plus retrieval views: hit@k (some same-class clip among the k nearest) and precision@k.
"""

import os
import time

import numpy as np
from tqdm import tqdm

from core.errors import DatasetError
from indexing.encoders.base import FrameEncoder
from indexing.frames.clip_search import search_clip
from indexing.frames.frame_index import FrameIndex
from indexing.frames.index_builder import cached_clip_frames
from training.data.frame_cache import FrameCache
from training.evaluate.metrics import classification_metrics


def evaluate_retrieval(
    prepared_dir: str | os.PathLike,
    index: FrameIndex,
    encoder: FrameEncoder,
    *,
    split: str = "test",
    k: int = 10,
) -> dict:
    cache = FrameCache(prepared_dir)
    rows = cache.rows(split)
    if not rows:
        raise DatasetError(f"{prepared_dir} has no clips in split {split!r}.")
    overlap = {row.clip_id for row in rows} & set(index.clip_ids())
    classes = sorted(set(cache.classes) | set(index.classes()))
    position = {label: i for i, label in enumerate(classes)}
    probs = np.zeros((len(rows), len(classes)))
    labels = np.array([position[row.label] for row in rows])
    hit, precision = [], []
    started = time.perf_counter()
    for n, row in enumerate(tqdm(rows, desc=f"evaluate {split}", unit="clip")):
        frames, _ = cached_clip_frames(cache, row, index.sampling.per_clip)
        result = search_clip(index, encoder, frames, k)
        for label, share in result.vote.items():
            probs[n, position[label]] = share
        same = [neighbour.label == row.label for neighbour in result.neighbours]
        hit.append(any(same))
        precision.append(float(np.mean(same)) if same else 0.0)
    elapsed = time.perf_counter() - started
    return {
        "method": "knn_vote",
        "encoder": encoder.name,
        "index_type": index.index_type.factory,
        "split": split,
        "k": k,
        "indexed_clips": len(index.clip_ids()),
        "query_overlap_with_index": len(overlap),
        f"hit_at_{k}": float(np.mean(hit)),
        f"precision_at_{k}": float(np.mean(precision)),
        "seconds_per_query": round(elapsed / len(rows), 4),
        "classes": classes,
        **classification_metrics(probs, labels, classes),
    }
