"""Tensors for training and evaluation, read from the frame cache.

Items are the cropped uint8 frames (T, H, W, 3): a quarter of the bytes of float pixels to copy
between loader processes and to the GPU, which is what limits a loader at hundreds of clips/s
(``benchmarks/loader.py``). The dataset's ``model_input`` turns a batch of them, once on the
model's device, into the normalised float (N, 3, T, H, W) the model reads. Training adds a random
crop, a horizontal flip and a small temporal jitter; evaluation takes the centre crop, so the
same clip always gives the same tensor.
"""

from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, WeightedRandomSampler

from core.errors import DatasetError
from training.data.frame_cache import FrameCache
from video.frame_plan import sample_indices
from video.model_input import centre_crop
from video.preprocessing import Preprocessing

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalise_batch(clips: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (N, T, H, W, 3), on any device -> float (N, 3, T, H, W) there, scaled to [0, 1] then standardised."""
    # Channels move first while the data is one byte per value; the float passes then run contiguous.
    tensor = clips.permute(0, 4, 1, 2, 3).contiguous().float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=clips.device).view(1, 3, 1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=clips.device).view(1, 3, 1, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)


def frames_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 frames as a contiguous tensor (a read-only memory-mapped view is copied: torch warns on those)."""
    return torch.from_numpy(np.ascontiguousarray(frames) if frames.flags.writeable else np.array(frames))


def normalise(frames: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (3, T, H, W): one clip through ``normalise_batch``."""
    return normalise_batch(frames_tensor(frames)[None], mean, std)[0]


def clip_to_tensor(frames: np.ndarray, crop_size: int, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The evaluation transform for one decoded clip; inference uses exactly this."""
    return normalise(centre_crop(frames, crop_size), mean, std)


def temporal_indices(available: int, wanted: int, rng: np.random.Generator | None) -> np.ndarray:
    """Uniform indices into the cached frames; with ``rng``, each shifted by at most one frame."""
    indices = sample_indices(0, available, wanted)
    if rng is not None:
        indices = np.clip(indices + rng.integers(-1, 2, size=wanted), 0, available - 1)
        indices.sort()
    return indices


class SplitDataset(Dataset):
    """One item per video of a split, labelled by class index, with per-(seed, epoch, item) randomness.

    What the pixel and the cached-feature datasets share; they differ only in what an item holds.
    """

    def __init__(
        self,
        cache: FrameCache,
        split: str,
        classes: list[str],
        *,
        train: bool,
        num_frames: int | None,
        clip_index: int | None,
        seed: int,
    ):
        self.cache = cache
        self.rows = cache.rows(split)
        if not self.rows:
            raise DatasetError(f"{cache.root}: split {split!r} has no clips.")
        unknown = sorted({row.label for row in self.rows} - set(classes))
        if unknown:
            raise DatasetError(f"split {split!r} has labels the model does not know: {', '.join(unknown)}.")
        self.class_index = {label: i for i, label in enumerate(classes)}
        self.labels = [self.class_index[row.label] for row in self.rows]
        self.train = train
        self.num_frames = num_frames or int(cache.config["num_frames"])
        self.num_clips = int(cache.config["num_clips"])
        self.clip_index = clip_index
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.rows)

    def set_epoch(self, epoch: int) -> None:
        """Makes augmentation depend on (seed, epoch, item): reproducible with any worker count."""
        self.epoch = epoch

    def item_rng(self, item: int) -> np.random.Generator | None:
        return np.random.default_rng((self.seed, self.epoch, item)) if self.train else None

    def model_input(self, batch: torch.Tensor) -> torch.Tensor:
        """What the model reads of a batch of items, once the batch is on the model's device."""
        return batch


class VideoDataset(SplitDataset):
    def __init__(
        self,
        cache: FrameCache,
        split: str,
        classes: list[str],
        *,
        train: bool,
        crop_size: int = 112,
        num_frames: int | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        clip_index: int | None = None,
        seed: int = 0,
    ):
        super().__init__(cache, split, classes, train=train, num_frames=num_frames, clip_index=clip_index, seed=seed)
        self.crop_size = crop_size
        self.mean, self.std = tuple(mean), tuple(std)

    @classmethod
    def for_model(
        cls,
        cache: FrameCache,
        split: str,
        classes: list[str],
        preprocessing: Preprocessing,
        *,
        train: bool,
        clip_index: int | None = None,
        seed: int = 0,
    ) -> "VideoDataset":
        """The items a model with this ``preprocessing`` reads: its frame count, crop and normalisation."""
        p = preprocessing
        return cls(
            cache,
            split,
            classes,
            train=train,
            crop_size=p.crop_size,
            num_frames=p.num_frames,
            mean=p.mean,
            std=p.std,
            clip_index=clip_index,
            seed=seed,
        )

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int, str]:
        row = self.rows[item]
        clips = self.cache.load_frames(row.clip_id)
        rng = self.item_rng(item)
        if self.clip_index is not None:
            clip = clips[self.clip_index]
        elif rng is not None:
            clip = clips[rng.integers(len(clips))]
        else:
            clip = clips[len(clips) // 2]
        clip = clip[temporal_indices(len(clip), self.num_frames, rng)]
        clip = centre_crop(clip, self.crop_size) if rng is None else self._random_crop_flip(clip, rng)
        return frames_tensor(clip), self.labels[item], row.clip_id

    def model_input(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 items (N, T, H, W, 3) -> normalised float (N, 3, T, H, W), on the batch's device."""
        return normalise_batch(batch, self.mean, self.std)

    def _random_crop_flip(self, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        height, width = clip.shape[1:3]
        if self.crop_size > min(height, width):
            raise DatasetError(f"crop {self.crop_size} is larger than the cached frames ({height}x{width}).")
        top = rng.integers(0, height - self.crop_size + 1)
        left = rng.integers(0, width - self.crop_size + 1)
        clip = clip[:, top : top + self.crop_size, left : left + self.crop_size]
        return clip[:, :, ::-1] if rng.random() < 0.5 else clip


def balanced_weights(labels: Sequence[int]) -> list[float]:
    """Per-item sampling weights under which every class is drawn equally often."""
    counts = Counter(labels)
    return [1.0 / counts[label] for label in labels]


def make_loader(
    dataset: VideoDataset,
    batch_size: int,
    *,
    shuffle: bool,
    balanced: bool = False,
    num_workers: int = 0,
    seed: int = 0,
    sampler: Sampler[int] | None = None,
    pin_memory: bool = False,
) -> DataLoader:
    """A loader; ``balanced`` draws classes equally often (for imbalanced data); ``pin_memory`` (for a
    CUDA model) lets batches cross to the GPU while the next one is read.

    A ``sampler`` given by the caller (one rank's share in distributed training) replaces both
    ``shuffle`` and ``balanced``: it already carries them.
    """
    generator = torch.Generator().manual_seed(seed)
    if sampler is None and balanced:
        weights = balanced_weights(dataset.labels)
        sampler = WeightedRandomSampler(weights, num_samples=len(weights), generator=generator)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=num_workers,
        generator=generator,
        persistent_workers=num_workers > 0,
        pin_memory=pin_memory,
    )
