"""Train a registered model on a prepared dataset, keeping the best checkpoint by val accuracy.

Every epoch reseeds from ``(seed, epoch)``: augmentation, shuffling and dropout depend only on
the seed and the epoch number, so a run resumed from ``last.pt`` continues exactly as if it had
never stopped, and the same seed gives the same result on the CPU.
"""

import logging
import math
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from core.atomic import atomic_write_json
from core.errors import ArtifactError, DatasetError
from training.data.dataset import SplitDataset, VideoDataset, make_loader
from training.data.feature_dataset import FeatureClipDataset
from training.data.feature_store import FeatureStore, build_feature_store
from training.data.frame_cache import FrameCache
from training.device import amp_enabled, autocast
from training.distributed import ProcessGroup, ShardSampler
from training.evaluate.plots import plot_curves
from training.fit.timing import inference_ms
from training.models.checkpoint import check_classes, load_checkpoint, save_checkpoint
from training.models.frame_classifier import HeadOnly
from training.models.frame_features import model_feature_source
from training.models.registry import build_model, get_spec
from training.runs import ARGS, CHECKPOINT, CURVES, LAST, METRICS, read_json, write_history
from video.preprocessing import Preprocessing

log = logging.getLogger(__name__)
SCHEDULERS = ("cosine", "plateau", "none")


@dataclass
class TrainConfig:
    model: str
    data: str
    epochs: int = 20
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "cosine"
    patience: int = 5  # early stopping: epochs without improvement (0 = never stop early)
    class_weights: bool = False
    balanced: bool = False
    grad_clip: float = 1.0  # max gradient norm (0 = no clipping)
    seed: int = 0
    pretrained: str = "auto"
    weights_file: str | None = None
    num_frames: int | None = None  # default: the frame cache's
    crop_size: int | None = None  # default: the model's input size, capped by the cache's frame size
    temporal: str = "mean"
    freeze_backbone: bool = False
    dropout: float | None = None
    workers: int = 0
    device: str = "auto"
    amp: bool = True
    progress: bool = True
    # A frozen frame-model backbone feeding whole frames trains its head from the feature store
    # (features computed once, reused by every epoch, evaluation and the index); False: from pixels.
    cached_features: bool = True
    # An ONNX export of that frozen backbone (``indexing export-encoder``): the feature store is filled by
    # ONNX Runtime (same features to cosine 0.99999, several times faster on a CPU); ignored when it differs.
    feature_backbone: str | None = None

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})


@dataclass
class TrainState:
    """Everything besides weights that a resumed run needs."""

    epochs_done: int = 0
    best_epoch: int = 0
    best_val_acc: float = -1.0
    best_val_loss: float = math.inf
    stale_epochs: int = 0
    stopped_early: bool = False
    train_time_s: float = 0.0
    clips_seen: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """A seed for one epoch of one run, independent of every other (seed, epoch) pair."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def load_config(run_dir: Path) -> TrainConfig:
    record = read_json(run_dir / ARGS)
    if record is None:
        raise ArtifactError(f"{run_dir} has no {ARGS}; it is not a training run.")
    return TrainConfig.from_dict(record["config"])


def preprocessing_for(config: TrainConfig, cache: FrameCache) -> Preprocessing:
    spec = get_spec(config.model)
    cached = int(cache.config["size"])
    crop = config.crop_size or min(spec.input_size, cached)
    if crop != spec.input_size and config.crop_size is None:
        log.info(
            "%s expects %d px; using %d px crops (the cache holds %d px frames)",
            spec.name,
            spec.input_size,
            crop,
            cached,
        )
    return Preprocessing(
        num_frames=config.num_frames or int(cache.config["num_frames"]),
        decode_size=cached,
        crop_size=crop,
        mean=spec.mean,
        std=spec.std,
        keep_aspect=bool(cache.config.get("keep_aspect", False)),
    )


def _class_weights(labels: list[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, 1.0 on average; an absent class gets weight 0."""
    counts = Counter(labels)
    total = len(labels)
    return torch.tensor(
        [total / (num_classes * counts[c]) if counts[c] else 0.0 for c in range(num_classes)],
        dtype=torch.float32,
    )


def _scheduler(name: str, optimizer: torch.optim.Optimizer, epochs: int):
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=2)
    if name == "none":
        return None
    raise ArtifactError(f"--scheduler must be one of {SCHEDULERS}, got {name!r}.")


def run_epoch(
    model: nn.Module,
    loader: DataLoader,
    criterion: nn.Module,
    device: torch.device,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: torch.amp.GradScaler | None = None,
    amp: bool = False,
    grad_clip: float = 0.0,
    desc: str = "",
    progress: bool = True,
    group: ProcessGroup | None = None,
) -> tuple[float, float, int]:
    """One pass over ``loader``; trains when an optimizer is given. Returns (loss, accuracy, clips).

    With a distributed ``group`` the figures are those of every rank's share together.
    """
    training = optimizer is not None
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    bar = tqdm(loader, desc=desc, unit="batch", leave=False, disable=not progress)
    with torch.set_grad_enabled(training):
        for clips, labels, _ in bar:
            clips, labels = clips.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            clips = loader.dataset.model_input(clips)
            with autocast(device, amp):
                logits = model(clips)
                loss = criterion(logits, labels)
            if training:
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if grad_clip > 0:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                scaler.step(optimizer)
                scaler.update()
            total_loss += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    if group is not None:
        total_loss, correct, seen = group.sum([total_loss, correct, seen])
        seen = int(seen)
    if seen == 0:
        raise DatasetError("an epoch saw no clips; the split is empty.")
    return total_loss / seen, correct / seen, seen


class Trainer:
    """One run: builds the model and data from a config, trains, writes the run folder.

    Under ``torchrun`` each rank builds the same Trainer with its ``group``: the model is
    wrapped in DDP, each rank trains on its share of every epoch, and rank 0 alone writes.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: Path,
        *,
        resume: bool = False,
        argv: list[str] | None = None,
        group: ProcessGroup | None = None,
    ):
        self.config, self.run_dir = config, Path(run_dir)
        self.group = group or ProcessGroup()
        self.cache = FrameCache(config.data)
        self.classes = self.cache.classes
        saved = load_checkpoint(self.run_dir / LAST) if resume else None
        if saved is not None:
            check_classes(saved["classes"], self.classes, f"the data in {config.data}")
        self.device = self.group.device(config.device)
        self.amp = amp_enabled(self.device, config.amp)
        # Training clips all have one shape: let cuDNN time its convolution kernels once and keep the
        # fastest (as torchvision's video references do). CUDA runs were not bitwise repeatable anyway.
        torch.backends.cudnn.benchmark = self.device.type == "cuda"
        self.preprocessing = preprocessing_for(config, self.cache)
        spec = get_spec(config.model)
        self.model_kwargs = spec.constructor_kwargs(
            num_frames=self.preprocessing.num_frames,
            input_size=self.preprocessing.crop_size,
            temporal=config.temporal,
            freeze_backbone=config.freeze_backbone,
            dropout=config.dropout,
        )
        seed_everything(config.seed)
        self.model = build_model(
            config.model,
            len(self.classes),
            pretrained="no" if resume else config.pretrained,
            weights_file=None if resume else config.weights_file,
            **self.model_kwargs,
        )
        self.pretrained_weights = self.model.pretrained_weights
        if config.freeze_backbone and self.pretrained_weights is None and not resume:
            log.warning("--freeze-backbone without pretrained weights: the frozen backbone stays random.")
        self.model.to(self.device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = _scheduler(config.scheduler, self.optimizer, config.epochs)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.state = TrainState()
        if saved is not None:
            self._restore(saved)
        # After a restore: the feature store is named by the backbone's weights.
        self.features = self._feature_store()
        self.eval_model = HeadOnly(self.model) if self.features is not None else self.model
        self.train_model = self.group.wrap(self.eval_model, self.device)
        self.train_set, self.val_set = self._datasets()
        weights = _class_weights(self.train_set.labels, len(self.classes)) if config.class_weights else None
        self.criterion = nn.CrossEntropyLoss(weight=weights).to(self.device)
        if self.group.is_main:
            self._write_args(argv or sys.argv, resume)

    def _feature_store(self) -> FeatureStore | None:
        """The feature store to train the head from, built on first use; None for the pixel path."""
        source = (
            model_feature_source(self.model, self.preprocessing, self.config.feature_backbone)
            if self.config.cached_features
            else None
        )
        if source is None:
            return None
        progress = self.config.progress and self.group.is_main
        store = build_feature_store(self.config.data, source, group=self.group, progress=progress)
        log.info("training the head from cached features in %s", store.root)
        return store

    def _datasets(self) -> tuple[Dataset, Dataset]:
        p, seed = self.preprocessing, self.config.seed
        if self.features is not None:
            return (
                FeatureClipDataset(
                    self.features, self.cache, "train", self.classes, train=True, num_frames=p.num_frames, seed=seed
                ),
                FeatureClipDataset(
                    self.features, self.cache, "val", self.classes, train=False, num_frames=p.num_frames
                ),
            )
        return (
            VideoDataset.for_model(self.cache, "train", self.classes, p, train=True, seed=seed),
            VideoDataset.for_model(self.cache, "val", self.classes, p, train=False),
        )

    # -- persistence -------------------------------------------------------------------------

    def _record_fields(self, summary: dict[str, Any]) -> dict[str, Any]:
        return dict(
            name=self.config.model,
            model_kwargs=self.model_kwargs,
            classes=self.classes,
            preprocessing=self.preprocessing,
            summary=summary,
        )

    def _summary(self) -> dict[str, Any]:
        s = self.state
        return {
            "epoch": s.best_epoch,
            "val_acc": s.best_val_acc,
            "val_loss": s.best_val_loss,
            "epochs_done": s.epochs_done,
            "train_time_s": round(s.train_time_s, 2),
            "pretrained_weights": self.pretrained_weights,
            "data": str(self.config.data),
            "seed": self.config.seed,
        }

    def _write_args(self, argv: list[str], resume: bool) -> None:
        """The exact arguments of the run; a resume adds its own command line."""
        record = (read_json(self.run_dir / ARGS) or {}) if resume else {"argv": argv}
        record["config"] = asdict(self.config)
        if resume:
            record.setdefault("resumed", []).append(argv)
        atomic_write_json(self.run_dir / ARGS, record)

    def _training_state(self) -> dict[str, Any]:
        return {
            "state": asdict(self.state),
            "config": asdict(self.config),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict(),
        }

    def _restore(self, record: dict[str, Any]) -> None:
        if record["model"]["name"] != self.config.model or record["model"]["kwargs"] != self.model_kwargs:
            raise ArtifactError(f"{self.run_dir / LAST} was saved for another model configuration.")
        saved = record.get("training_state")
        if saved is None:
            raise ArtifactError(f"{self.run_dir / LAST} holds no training state; it cannot be resumed.")
        self.model.load_state_dict(record["state_dict"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler is not None and saved["scheduler"] is not None:
            self.scheduler.load_state_dict(saved["scheduler"])
            if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
                self.scheduler.T_max = max(self.config.epochs, 1)  # --epochs may have grown
        self.scaler.load_state_dict(saved["scaler"])
        self.state = TrainState(**saved["state"])
        self.pretrained_weights = record["summary"].get("pretrained_weights")
        log.info("resuming %s after epoch %d", self.run_dir, self.state.epochs_done)

    # -- training ----------------------------------------------------------------------------

    def _improved(self, val_acc: float, val_loss: float) -> bool:
        best = self.state
        return val_acc > best.best_val_acc or (val_acc == best.best_val_acc and val_loss < best.best_val_loss)

    def _shard(self, dataset: SplitDataset, seed: int, *, train: bool) -> ShardSampler | None:
        """This rank's share of ``dataset`` under torchrun; None (the loader's own order) in one process."""
        if not self.group.distributed:
            return None
        return ShardSampler(
            dataset.labels, self.group, seed=seed, shuffle=train, balanced=train and self.config.balanced, pad=train
        )

    def _epoch(self, epoch: int) -> dict[str, Any]:
        config = self.config
        seed = epoch_seed(config.seed, epoch)
        seed_everything(seed)
        self.train_set.set_epoch(epoch)
        loader = make_loader(
            self.train_set,
            config.batch_size,
            shuffle=True,
            balanced=config.balanced,
            num_workers=config.workers,
            seed=seed,
            sampler=self._shard(self.train_set, seed, train=True),
            pin_memory=self.device.type == "cuda",
        )
        val_loader = make_loader(
            self.val_set,
            config.batch_size,
            shuffle=False,
            num_workers=config.workers,
            sampler=self._shard(self.val_set, seed, train=False),
            pin_memory=self.device.type == "cuda",
        )
        progress = config.progress and self.group.is_main
        lr = self.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        label = f"epoch {epoch + 1}/{config.epochs}"
        train_loss, train_acc, clips = run_epoch(
            self.train_model,
            loader,
            self.criterion,
            self.device,
            optimizer=self.optimizer,
            scaler=self.scaler,
            amp=self.amp,
            grad_clip=config.grad_clip,
            desc=f"{label} train",
            progress=progress,
            group=self.group,
        )
        train_s = time.perf_counter() - start
        self.group.sync_buffers(self.model)
        # The bare model: DDP's forward would sync buffers, a collective the uneven val shards cannot match.
        val_loss, val_acc, _ = run_epoch(
            self.eval_model,
            val_loader,
            self.criterion,
            self.device,
            amp=self.amp,
            desc=f"{label} val",
            progress=progress,
            group=self.group,
        )
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(val_acc)
        elif self.scheduler is not None:
            self.scheduler.step()
        self.state.train_time_s += time.perf_counter() - start
        self.state.clips_seen += clips
        return {
            "epoch": epoch + 1,
            "train_loss": round(train_loss, 6),
            "train_acc": round(train_acc, 6),
            "val_loss": round(val_loss, 6),
            "val_acc": round(val_acc, 6),
            "lr": lr,
            "train_clips_per_s": round(clips / max(train_s, 1e-9), 2),
            "epoch_time_s": round(time.perf_counter() - start, 2),
        }

    def fit(self) -> dict[str, Any]:
        """Train until ``epochs`` or early stopping; returns the metrics written to metrics.json.

        Every rank keeps the same state (its figures are all-reduced), so all stop together.
        """
        state, config = self.state, self.config
        while state.epochs_done < config.epochs and not state.stopped_early:
            row = self._epoch(state.epochs_done)
            state.history.append(row)
            state.epochs_done += 1
            improved = self._improved(row["val_acc"], row["val_loss"])
            if improved:
                state.best_epoch, state.best_val_acc = row["epoch"], row["val_acc"]
                state.best_val_loss = row["val_loss"]
                state.stale_epochs = 0
            else:
                state.stale_epochs += 1
            state.stopped_early = 0 < config.patience <= state.stale_epochs
            if self.group.is_main:
                self._write_epoch(row, improved)
        if state.stopped_early:
            log.info("stopped early: no improvement for %d epochs", state.stale_epochs)
        metrics = self._metrics()
        if self.group.is_main:
            atomic_write_json(self.run_dir / METRICS, metrics)
        return metrics

    def _write_epoch(self, row: dict[str, Any], improved: bool) -> None:
        """The run folder after an epoch: best and last checkpoints, history, curves, a log line."""
        state = self.state
        if improved:
            save_checkpoint(self.run_dir / CHECKPOINT, self.model, **self._record_fields(self._summary()))
        save_checkpoint(
            self.run_dir / LAST,
            self.model,
            **self._record_fields(self._summary()),
            training_state=self._training_state(),
        )
        write_history(self.run_dir, state.history)
        plot_curves(state.history, self.run_dir / CURVES)
        log.info(
            "epoch %d: train loss %.3f acc %.3f | val loss %.3f acc %.3f%s",
            row["epoch"],
            row["train_loss"],
            row["train_acc"],
            row["val_loss"],
            row["val_acc"],
            " (best)" if state.best_epoch == row["epoch"] else "",
        )

    def _metrics(self) -> dict[str, Any]:
        p = self.preprocessing
        params = sum(x.numel() for x in self.model.parameters())
        trainable = sum(x.numel() for x in self.model.parameters() if x.requires_grad)
        clip_shape = (1, 3, p.num_frames, p.crop_size, p.crop_size)
        return {
            "model": self.config.model,
            "run_dir": str(self.run_dir),
            "classes": self.classes,
            **self._summary(),
            "best_epoch": self.state.best_epoch,
            "best_val_acc": self.state.best_val_acc,
            "stopped_early": self.state.stopped_early,
            "params": params,
            "trainable_params": trainable,
            "train_clips_per_s": round(self.state.clips_seen / max(self.state.train_time_s, 1e-9), 2),
            "inference_ms_per_clip": round(inference_ms(self.model, clip_shape, self.device), 2),
            "inference_device": str(self.device),
            "clip_shape": list(clip_shape[1:]),
        }


def train(
    config: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    argv: list[str] | None = None,
    group: ProcessGroup | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run in ``run_dir``; returns its metrics. ``group``: this rank under torchrun."""
    return Trainer(config, run_dir, resume=resume, argv=argv, group=group).fit()
