"""Why a model decided: Grad-CAM heat maps and temporal importance, asked for only when explaining.

Saliency needs gradients, so it never runs on the answer path; the assistant calls
``explain_clips`` on the windows an answer used when a user asks to see why.
"""

from training.models.saliency.classifier import ExplainedClips, class_index, explain_clips
from training.models.saliency.gradcam import ClipSaliency, grad_cam
from training.models.saliency.temporal import ImportanceCurve, frame_scores, importance_curve

__all__ = [
    "ClipSaliency",
    "ExplainedClips",
    "ImportanceCurve",
    "class_index",
    "explain_clips",
    "frame_scores",
    "grad_cam",
    "importance_curve",
]
