"""Gather every rank's arrays on rank 0 through files, for results too big to send as messages.

Under ``torchrun`` each rank computes its share of a result (frame vectors of its clips, say);
rank 0 needs all of it to build one artifact. Each rank writes its arrays into one ``.npy`` file
in a staging folder the caller names (beside the artifact, on the filesystem every rank already
shares: the prepared cache is read by all of them); after a barrier rank 0 maps the files, hands
back the arrays in rank order and removes the folder. Nothing is pickled and no rank holds another's
share in memory until rank 0 reads it.
"""

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.atomic import atomic_write, atomic_write_json
from core.errors import ArtifactError
from training.distributed import ProcessGroup


def gather_on_main(items: Sequence[np.ndarray], group: ProcessGroup, staging: Path) -> list[list[np.ndarray]] | None:
    """Every rank's ``items`` (arrays with the same trailing shape) on rank 0: one list per rank, in rank order.

    Other ranks get None. In one process ``items`` come back as the only share, with no files written.
    ``staging`` must be the same path on every rank, new to this gathering (each share's write creates it).
    """
    if not group.distributed:
        return [list(items)]
    try:
        _write_share(staging / f"rank-{group.rank}", items)
        group.per_rank(len(items))  # every share is on disk
        if not group.is_main:
            return None
        return [_read_share(staging / f"rank-{rank}") for rank in range(group.world_size)]
    finally:
        if group.is_main:  # rank 0 removes the staging folder however the gathering ends
            shutil.rmtree(staging, ignore_errors=True)


def _write_share(stem: Path, items: Sequence[np.ndarray]) -> None:
    flat = np.concatenate(items) if items else np.empty((0,), dtype=np.float32)
    atomic_write(stem.with_suffix(".npy"), lambda handle: np.save(handle, flat))
    atomic_write_json(stem.with_suffix(".json"), {"lengths": [len(item) for item in items]})


def _read_share(stem: Path) -> list[np.ndarray]:
    try:
        lengths = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))["lengths"]
        flat = np.load(stem.with_suffix(".npy"), mmap_mode="r")
    except (OSError, ValueError, KeyError) as error:
        raise ArtifactError(
            f"Cannot read {stem.name}'s share in {stem.parent} ({error}). Every rank must write to a folder "
            "rank 0 can read: put the data and index folders on a filesystem all nodes share."
        ) from error
    bounds = np.cumsum([0, *lengths])
    return [np.array(flat[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
