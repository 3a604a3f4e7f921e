"""Shifted copies of validation clips: what a known activity looks like from another camera.

Calibration needs the confidence and similarity that *unseen* clips of known activities get.
The validation split alone underestimates their spread: UCF101-style groups make validation
clips near-copies of training clips, so a model can be right and sure on every one of them.
Real uploads differ by framing, compression and colour; each copy applies one random amount
of all three, so the "unknown" thresholds are set against scores that include that shift.
"""

import cv2
import numpy as np

# Ranges of the shift: a crop keeping 60-85 % of the frame area, JPEG quality 20-50 (a phone
# upload re-encoded twice), per-channel gain 0.75-1.25 and offset +-25 grey levels (white
# balance and exposure). Wide enough to move scores, small enough that a person still sees
# the same activity.
CROP_AREA = (0.6, 0.85)
JPEG_QUALITY = (20, 50)
GAIN = (0.75, 1.25)
OFFSET = 25


def shifted_copy(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 frames (T, H, W, 3) cropped, re-compressed and colour-shifted alike (one draw per clip)."""
    height, width = frames.shape[1:3]
    scale = float(np.sqrt(rng.uniform(*CROP_AREA)))
    crop_h, crop_w = max(1, round(height * scale)), max(1, round(width * scale))
    top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
    quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    gain = rng.uniform(*GAIN, size=3)
    offset = rng.uniform(-OFFSET, OFFSET, size=3)
    out = np.empty_like(frames)
    for n, frame in enumerate(frames):
        window = frame[top : top + crop_h, left : left + crop_w]
        crop = cv2.resize(window, (width, height), interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok, "OpenCV failed to JPEG-encode a frame"
        decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).reshape(crop.shape)
        out[n] = np.clip(decoded.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    return out
