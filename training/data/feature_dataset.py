"""Training and evaluation items read from the feature store instead of decoded pixels.

The same items as ``VideoDataset`` (one cached clip per video; in training a random one, with
the frame indices jittered by at most one frame), with the frame features in place of the
frames: (T, D) float32. Training takes the features of the flipped frames half of the time,
the augmentation a frozen backbone still allows; a random crop would need the backbone again.
"""

import numpy as np
import torch

from training.data.dataset import SplitDataset, temporal_indices
from training.data.feature_store import FeatureStore
from training.data.frame_cache import FrameCache


class FeatureClipDataset(SplitDataset):
    def __init__(
        self,
        store: FeatureStore,
        cache: FrameCache,
        split: str,
        classes: list[str],
        *,
        train: bool,
        num_frames: int,
        clip_index: int | None = None,
        seed: int = 0,
    ):
        super().__init__(cache, split, classes, train=train, num_frames=num_frames, clip_index=clip_index, seed=seed)
        self.store = store

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int, str]:
        row = self.rows[item]
        rng = self.item_rng(item)
        # Random draws in VideoDataset's order (clip, jitter, crop offsets, flip): with the same seed
        # both paths see the same clips, frames and flips, so they train alike.
        if self.clip_index is not None:
            clip_index = self.clip_index
        elif rng is not None:
            clip_index = int(rng.integers(self.num_clips))
        else:
            clip_index = self.num_clips // 2
        per_clip = self.store.manifest["frames_per_row"] // self.num_clips
        indices = temporal_indices(per_clip, self.num_frames, rng)
        flip = False
        if rng is not None:
            rng.integers(0, 1), rng.integers(0, 1)  # the crop offsets: a whole-frame crop has one position
            flip = bool(rng.random() < 0.5)
        features = self.store.flipped(row.clip_id) if flip else self.store.frames(row.clip_id)
        chosen = features[clip_index * per_clip + indices]
        return torch.from_numpy(np.asarray(chosen, dtype=np.float32)), self.labels[item], row.clip_id
