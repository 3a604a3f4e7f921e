"""Saliency for a loaded checkpoint: the same preprocessing as its predictions, classes by name.

The clips go through exactly the transform ``Classifier.predict_proba`` uses, and the frames
returned are the cropped pixels the model saw, so a heat map lines up with what it describes.
Only this path turns gradients on; answering stays in inference mode.
"""

from dataclasses import dataclass

import numpy as np

from core.errors import ArtifactError
from training.models.inference import Classifier
from training.models.registry import get_spec
from training.models.saliency.gradcam import ClipSaliency, grad_cam


@dataclass(frozen=True)
class ExplainedClips:
    """Grad-CAM of N clips for one class, with the (N, T, crop, crop, 3) uint8 frames it covers."""

    label: str
    saliency: ClipSaliency
    frames: np.ndarray


def class_index(classifier: Classifier, label: str) -> int:
    try:
        return classifier.classes.index(label)
    except ValueError:
        raise ArtifactError(
            f"The classifier ({classifier.name}) has no class {label!r}; it knows {', '.join(classifier.classes)}."
        ) from None


def explain_clips(classifier: Classifier, clips: np.ndarray, label: str, batch_size: int = 4) -> ExplainedClips:
    """Grad-CAM of uint8 clips (N, T, H, W, 3) for ``label``, in batches to bound activation memory."""
    target = class_index(classifier, label)
    spec = get_spec(classifier.name)
    inputs = classifier.clips_to_tensor(clips)
    parts = [
        grad_cam(
            classifier.model,
            spec.saliency_layer,
            inputs[start : start + batch_size].to(classifier.device),
            target,
            frame_model=spec.frame_model,
        )
        for start in range(0, len(inputs), batch_size)
    ]
    saliency = ClipSaliency(
        heat=np.concatenate([p.heat for p in parts]),
        frame_share=np.concatenate([p.frame_share for p in parts]),
        probabilities=np.concatenate([p.probabilities for p in parts]),
        target=target,
    )
    frames = np.stack([classifier.model_frames(clip) for clip in np.asarray(clips)])
    return ExplainedClips(label=label, saliency=saliency, frames=frames)
