"""The uint8 frames a classifier reads from a decoded clip, computed without torch.

Resample to the model's frame count, resize to its decode size the way the frame cache was
built, centre-crop to its input size: the torch classifier and the ONNX one (which runs on a
machine without torch) share these steps, so both see exactly the same pixels.
"""

import numpy as np

from core.errors import DatasetError
from video.decoding import resize_frame
from video.frame_plan import sample_indices
from video.preprocessing import Preprocessing


def centre_crop(frames: np.ndarray, crop_size: int) -> np.ndarray:
    height, width = frames.shape[1:3]
    if crop_size > min(height, width):
        raise DatasetError(f"crop {crop_size} is larger than the cached frames ({height}x{width}).")
    top, left = (height - crop_size) // 2, (width - crop_size) // 2
    return frames[:, top : top + crop_size, left : left + crop_size]


def fit_frames(frames: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """Frames at the decode size (resized only when they are not already)."""
    p = preprocessing
    if frames.shape[1:3] == (p.decode_size, p.decode_size):
        return frames
    return np.stack([resize_frame(frame, p.decode_size, p.keep_aspect) for frame in frames])


def frame_rows(length: int, preprocessing: Preprocessing) -> np.ndarray:
    """Which of a clip's ``length`` frames the model reads, in order (repeats when the clip is short)."""
    return sample_indices(0, length, preprocessing.num_frames)


def model_frames(clip: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """uint8 (num_frames, crop, crop, 3): what the model sees of one clip."""
    rows = frame_rows(len(clip), preprocessing)
    return centre_crop(fit_frames(clip[rows], preprocessing), preprocessing.crop_size)
