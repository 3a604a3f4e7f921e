"""One backbone pass per answer when the classifier's frozen backbone is the index encoder's.

A frozen ``effnet_frames`` head trained at the index encoder's resolution reads the very
features the encoder computes (same weights, size and normalisation: equal ``feature_key``).
Running the backbone twice over the same frames, once to classify and once to embed, would
then double the most expensive step of an answer. Here it runs once over the distinct frames
the two would read (the classifier's frames of every window and the windows' query frames,
which are a subset of them), and both the head and the search are fed from that one pass.
The result equals the two-pass result within float tolerance, because each side gets the
features of exactly the frames it would have computed them from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from assistant.analysis.retrieval import FrameFeatures, features_of_frames, query_selections
from indexing.encoders.base import FrameEncoder
from indexing.frames.frame_index import FrameIndex
from video.decoding import Clip

if TYPE_CHECKING:  # torch; a bundle's OnnxClassifier answers the same calls
    from training.models.inference import Classifier
    from training.models.onnx_classifier import OnnxClassifier


def shares_backbone(
    classifier: Classifier | OnnxClassifier | None,
    encoder: FrameEncoder | None,
    index: FrameIndex | None,
    windows: Sequence[Clip],
) -> bool:
    """True when one backbone pass can serve both the classifier and the frame search.

    Equal feature keys mean equal weights, input size and normalisation; the frames must also
    reach both unchanged: already square at that size, so the classifier neither resizes nor
    crops them (``keep_aspect`` decodes would be centre-cropped by one and stretched by the other).
    """
    if classifier is None or encoder is None or index is None:
        return False
    key = classifier.feature_key
    if key is None or key != encoder.feature_key:
        return False
    size = classifier.frame_size
    return all(window.frames.shape[1:3] == (size, size) for window in windows)


def classify_from_shared_pass(
    classifier: Classifier | OnnxClassifier, encoder: FrameEncoder, index: FrameIndex, windows: Sequence[Clip]
) -> tuple[np.ndarray, FrameFeatures]:
    """(windows, classes) probabilities and the raw features the search reads (``search_windows``)."""
    classifier_selections = []
    for window in windows:
        rows = classifier.frame_rows(len(window.frames))
        classifier_selections.append((window.frame_indices[rows], window.frames[rows]))
    features = features_of_frames(
        encoder.raw_features, [*classifier_selections, *query_selections(windows, index.sampling.per_clip)]
    )
    per_window = np.stack([features.of(indices) for indices, _ in classifier_selections])
    return np.asarray(classifier.predict_proba_from_features(per_window), dtype=np.float64), features
