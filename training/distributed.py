"""Data-parallel training under ``torchrun``: the process group, who writes, how data is split.

``torchrun`` starts one process per GPU (or per CPU slot) and tells each its RANK, WORLD_SIZE
and LOCAL_RANK through the environment; without those variables everything here is the
one-process case and changes nothing. Collectives on CUDA tensors go through NCCL and those on
CPU tensors through gloo (torch creates both when a GPU is present, gloo alone otherwise), so
the choice follows the training device. Every collective has a timeout: a rank that dies or
hangs ends the run with a readable error instead of leaving the others waiting forever.
"""

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import cycle, islice
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler

from core.errors import AssistantError, DistributedError
from training.data.dataset import balanced_weights
from training.device import pick_device

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place in the run; the defaults describe a plain single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    timeout_s: float = 0.0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run folder, so ranks never race on a file."""
        return self.rank == 0

    def device(self, requested: str) -> torch.device:
        """The requested device, with each process of a multi-GPU run on its own GPU."""
        device = pick_device(requested)
        if self.distributed and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The module to train: DDP averages gradients across ranks during ``backward``."""
        if not self.distributed:
            return model
        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over every rank: per-rank loss, correct and seen counts become global."""
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def per_rank(self, value: float) -> list[float]:
        """Every rank's ``value``, in rank order. An all-reduce, so also a barrier: it returns on a
        rank only once every rank has reached it (over gloo, whatever backend GPUs use)."""
        values = [0.0] * self.world_size
        values[self.rank] = value
        return self.sum(values)

    def share(self, count: int) -> range:
        """This rank's contiguous block of ``count`` items; the blocks, in rank order, cover each item once."""
        return range(self.rank * count // self.world_size, (self.rank + 1) * count // self.world_size)

    def sync_buffers(self, module: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm statistics) everywhere, so every rank evaluates the saved model."""
        if self.distributed:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def from_main(self, compute: Callable[[], T]) -> T:
        """Rank 0 computes (a new run's folder name, say) and every rank gets the same result.

        A project error on rank 0 is raised on every rank, so all of them stop with its message.
        """
        if not self.distributed:
            return compute()
        box: list[object] = [None]
        if self.is_main:
            try:
                box[0] = ("value", compute())
            except AssistantError as error:
                box[0] = ("error", error)
        dist.broadcast_object_list(box, src=0, device=torch.device("cpu"))
        kind, payload = box[0]
        if kind == "error":
            raise payload
        return payload


class ShardSampler(Sampler[int]):
    """This rank's share of one epoch.

    Every rank draws the same global order from the same seed (a permutation, a class-balanced
    draw with replacement, or the plain order) and keeps every ``world_size``-th item from its
    rank on. For training the order is padded with its first items so that every rank runs the
    same number of steps (DDP needs that); for evaluation it is not, and per-rank sums add up to
    exactly the whole split.
    """

    def __init__(
        self,
        labels: Sequence[int],
        group: ProcessGroup,
        *,
        seed: int,
        shuffle: bool,
        balanced: bool = False,
        pad: bool = True,
    ):
        self.labels, self.group = list(labels), group
        self.seed, self.shuffle, self.balanced, self.pad = seed, shuffle, balanced, pad

    def _order(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed)
        count = len(self.labels)
        if self.balanced:
            weights = torch.tensor(balanced_weights(self.labels), dtype=torch.float64)
            order = torch.multinomial(weights, count, replacement=True, generator=generator).tolist()
        elif self.shuffle:
            order = torch.randperm(count, generator=generator).tolist()
        else:
            order = list(range(count))
        if self.pad:
            order += islice(cycle(order), -len(order) % self.group.world_size)
        return order

    def __iter__(self) -> Iterator[int]:
        return iter(self._order()[self.group.rank :: self.group.world_size])

    def __len__(self) -> int:
        total = len(self.labels)
        if self.pad:
            return -(-total // self.group.world_size)
        return len(range(self.group.rank, total, self.group.world_size))


def launched_ranks() -> int:
    """How many processes ``torchrun`` (or any launcher setting WORLD_SIZE) started; 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@contextmanager
def process_group(timeout_s: float) -> Iterator[ProcessGroup]:
    """Join the run's process group for the duration of the block (nothing to join in one process).

    A failure inside the block on a multi-process run (a peer that died or hung, a collective
    that timed out) becomes a ``DistributedError`` that names this rank and the timeout.
    """
    world_size = launched_ranks()
    if world_size <= 1:
        yield ProcessGroup()
        return
    group = ProcessGroup(
        rank=int(os.environ["RANK"]),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        timeout_s=timeout_s,
    )
    try:
        # backend=None: gloo for CPU tensors, plus NCCL for CUDA tensors when a GPU is present.
        dist.init_process_group(
            backend=None, rank=group.rank, world_size=world_size, timeout=timedelta(seconds=timeout_s)
        )
        # Every rank's gloo connections are complete before any rank starts work that can fail: a rank that
        # exits while a peer is still setting up its connection to it can abort that peer (SIGABRT inside
        # gloo, seen once in CI) instead of letting it raise and say why.
        dist.all_reduce(torch.zeros(1))
        log.info("rank %d of %d joined (backends %s)", group.rank, world_size, dist.get_backend_config())
        if not group.is_main:
            logging.getLogger().setLevel(logging.WARNING)  # one log per run: rank 0's
        yield group
    except RuntimeError as error:  # torch's distributed errors (DistError, gloo/NCCL failures) are RuntimeErrors
        raise DistributedError(
            f"rank {group.rank} of {world_size} stopped: {error}. Another rank probably died or hung; "
            f"its own log says why. Collectives give up after {timeout_s:.0f} s (ACTIVITY_DIST_TIMEOUT_S)."
        ) from error
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
